"""What-if patches for measuring a proposed core change BEFORE anyone edits the core:
`python -m bench --variant NAME` runs the real web.py with NAME applied at start-up (in the
bot's process only, by bench.runner). Nothing here is used by the bot in production; each
variant documents the core change it stands for.

lean-line   outbox/line.py LineOutbox._post(): json.dumps and urllib3 directly, instead of the
            SDK's ApiClient.call_api (header/body sanitize_for_serialization, parameters_to_tuples,
            RESTClientObject, RESTResponse, response decoding). The message JSON is already the
            core's cached `_messages`; only the HTTP client differs. Errors are raised as the
            SDK's ApiException / ServiceException with status, body (str) and headers, which is
            all LineOutbox._classify reads.
raw-http    outbox/line.py LineOutbox._post(): json.dumps and a minimal HTTP/1.1 keep-alive client
            on gevent sockets (a free list of connections, Content-Length responses only, any
            error closes the connection and surfaces as OSError, i.e. a transient failure
            retried with the same key). Plain http:// only: what it stands for in the core
            would wrap the socket in TLS for https://api.line.me, which this bench does not
            measure.

(blocking-redis and paced-dispatch were adopted by the core in de508d5: storage/store.py
connect() and actors/dispatcher.py `max_waking`.)
"""
import json

VARIANTS = {}


def variant(name):
    def register(function):
        VARIANTS[name] = function
        return function
    return register


def _raise_api_error(status, reason, body: bytes, headers):
    """Fail the way the SDK's client does, so LineOutbox classifies the answer unchanged."""
    from linebot.v3.messaging.exceptions import ApiException, ServiceException

    exc = (ServiceException if status >= 500 else ApiException)(status=status, reason=reason)
    exc.body = body.decode("utf-8", "replace")
    exc.headers = headers
    raise exc


def _patch_post(make_post):
    """LineOutbox._post, replaced by `make_post(configuration)`, built once per outbox."""
    from outbox import line

    def _post(self, path, body, timeout, headers=None):
        post = self.__dict__.get("_variant_post")
        if post is None:
            post = self._variant_post = make_post(self._client.configuration)
        post(path, body, timeout, headers)

    line.LineOutbox._post = _post


class LeanPost:
    """`LineOutbox._post(path, body, timeout, headers)` on one urllib3 pool of its own."""

    def __init__(self, base_url, access_token, maxsize):
        import urllib3

        self._urllib3 = urllib3
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}",
                         "Accept": "application/json", "Content-Type": "application/json"}
        self._pool = urllib3.PoolManager(maxsize=maxsize, retries=False)

    def __call__(self, path, body, timeout, headers=None):
        response = self._pool.request(
            "POST", self._base + path, body=json.dumps(body).encode(),
            headers={**self._headers, **headers} if headers else self._headers,
            timeout=self._urllib3.Timeout(total=timeout) if timeout else None, retries=False)
        if response.status >= 300:
            _raise_api_error(response.status, response.reason, response.data, response.headers)


@variant("lean-line")
def lean_line():
    _patch_post(lambda config: LeanPost(config.host, config.access_token,
                                        config.connection_pool_maxsize))


class RawPost:
    """`LineOutbox._post(path, body, timeout, headers)` on a free list of keep-alive sockets."""

    def __init__(self, base_url, access_token):
        from urllib.parse import urlsplit

        url = urlsplit(base_url)
        if url.scheme != "http":
            raise ValueError("raw-http speaks plain http:// only (the bench's stand-in)")
        self._address = (url.hostname, url.port or 80)
        self._head = (f"Host: {url.netloc}\r\nAuthorization: Bearer {access_token}\r\n"
                      f"Accept: application/json\r\nContent-Type: application/json\r\n")
        self._idle = []   # (socket, leftover buffer)

    def _connect(self, timeout):
        from gevent import socket

        sock = socket.create_connection(self._address, timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, bytearray()

    def __call__(self, path, body, timeout, headers=None):
        from bench.webhooks import read_response

        payload = json.dumps(body).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (f"POST {path} HTTP/1.1\r\n{self._head}{extra}"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        sock, buffer = self._idle.pop() if self._idle else self._connect(timeout)
        try:
            sock.settimeout(timeout)
            sock.sendall(request)
            answer = read_response(sock, buffer)
        except BaseException:
            sock.close()
            raise
        self._idle.append((sock, buffer))
        if answer.status >= 300:
            _raise_api_error(answer.status, "", answer.body, {})


@variant("raw-http")
def raw_http():
    _patch_post(lambda config: RawPost(config.host, config.access_token))


def apply(names):
    for name in names:
        VARIANTS[name]()
