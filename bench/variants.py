"""What-if patches for measuring a core change side by side: `python -m bench --variant NAME`
runs the real web.py with NAME applied at start-up (in the bot's process only, by
bench.runner). Nothing here is used by the bot in production; each variant documents what it
stands for.

sdk-http    the outbox's transport as it was before outbox/http.py: every push, multicast and
            reply through the line-bot-sdk's ApiClient.call_api (sanitize_for_serialization,
            urllib3, http.client, RESTResponse), with the same body dict, headers, timeout and
            no retries. LINE's non-2xx answers come back as the same outbox.http.Answer.
            tests/test_outbox_wire.py checks that it and the core send the same bytes.
no-replica-wait
            Redis Cluster: a batch is claimed (or taken over) and sent without waiting for the
            shard's replica to acknowledge the claim (no WAIT): what the WAIT costs
            (storage/batches.py). Unsafe: a failover can then lose a claim of an ask LINE took.

Earlier variants and what became of them: bench/README.md.
"""
import json

VARIANTS = {}


def variant(name):
    def register(function):
        VARIANTS[name] = function
        return function
    return register


class SdkHttp:
    """`transport.post(path, payload, timeout, headers)` through the SDK's ApiClient."""

    def __init__(self, base_url, access_token, *, concurrency=128, timeout=5.0):
        from linebot.v3.messaging import ApiClient, Configuration

        configuration = Configuration(host=base_url, access_token=access_token)
        configuration.connection_pool_maxsize = concurrency
        configuration.retries = False
        self._client = ApiClient(configuration)

    def post(self, path, payload, timeout, headers=()):
        from linebot.v3.messaging import ApiException
        from urllib3.exceptions import HTTPError

        from outbox.http import Answer

        try:
            self._client.call_api(
                path, "POST", header_params={"Accept": "application/json",
                                             "Content-Type": "application/json", **dict(headers)},
                body=json.loads(payload), auth_settings=["Bearer"], response_types_map={},
                _return_http_data_only=True, _request_timeout=timeout)
        except ApiException as exc:
            body = exc.body if isinstance(exc.body, bytes) else (exc.body or "").encode()
            return Answer(exc.status, body, (exc.headers or {}).get("x-line-request-id", "-"))
        except HTTPError as exc:  # what the outbox counts as a transient failure
            raise ConnectionError(type(exc).__name__) from exc
        return Answer(200, b"", "-")

    def close(self):
        self._client.close()


@variant("sdk-http")
def sdk_http():
    from outbox import line

    line.LineHttp = SdkHttp


@variant("no-replica-wait")
def no_replica_wait():
    from storage import batches

    def replicated(self, key, add):
        nodes = self._nodes
        [answer] = self._pipeliner.execute(nodes.client_for(key), nodes.node_name(key), [add])
        if isinstance(answer, Exception):
            raise answer
        return answer, True

    batches.AskBatches._replicated = replicated


def apply(names):
    for name in names:
        VARIANTS[name]()
