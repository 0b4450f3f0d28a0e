"""Requests to the Messaging API on pooled keep-alive connections: geventhttpclient's connection
pool (TLS, dead-connection check) and its C response parser, with the request written here.

The line-bot-sdk client spends ~0.4 ms of CPU per request in urllib3 and http.client; this
one ~0.1 ms. What goes over the wire is byte for byte what the outbox sent through the SDK's
client before (the same headers and values, `json.dumps` of the same dict), and what the SDK's
own generated methods send but for the order of keys in a multicast
(tests/test_outbox_wire.py compares them).
Every call has a timeout that covers waiting for a connection, connecting, sending and the
whole answer. Any failure on the way surfaces as an OSError (TimeoutError, ConnectionError):
the outbox treats it as transient and retries with the same X-Line-Retry-Key. A failure
before the request was written whole is a `NotSent`: LINE cannot have acted on it.
"""
import json
from http.client import HTTPException
from typing import NamedTuple, Sequence, Tuple
from urllib.parse import urlsplit

import certifi
import gevent
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.response import HTTPSocketPoolResponse

# What line-bot-sdk 3.27.0 (requirements.txt) sends as its User-Agent.
USER_AGENT = "line-bot-sdk-python/3.27.0"


class NotSent(ConnectionError):
    """The request never reached LINE whole: no connection within the timeout, or the
    connection broke while it was written. LINE cannot have acted on it."""


class Answer(NamedTuple):
    status: int
    body: bytes
    request_id: str  # LINE's x-line-request-id, "-" when absent

    def message(self) -> str:
        """LINE's {"message": ...} from an error body ("" if there is none)."""
        try:
            parsed = json.loads(self.body or b"")
        except ValueError:
            return self.body.decode("utf-8", "replace")
        message = parsed.get("message") if isinstance(parsed, dict) else None
        return message if isinstance(message, str) else ""


class LineHttp:
    def __init__(self, base_url: str, access_token: str, *, concurrency: int = 128,
                 timeout: float = 5.0):
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        secure = url.scheme == "https"
        port = url.port or (443 if secure else 80)
        options = dict(size=concurrency, connection_timeout=timeout, network_timeout=timeout)
        if secure:
            # The CA bundle the SDK's urllib3 client verifies against.
            self._pool = SSLConnectionPool(url.hostname, port, url.hostname, port,
                                           ssl_options={"ca_certs": certifi.where()}, **options)
        else:
            self._pool = ConnectionPool(url.hostname, port, url.hostname, port, **options)
        host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
        if url.port and url.port != (443 if secure else 80):
            host += f":{url.port}"
        self._prefix = url.path.rstrip("/")
        first = f"Host: {host}\r\nAccept-Encoding: identity\r\nAccept: application/json\r\n"
        last = f"Authorization: Bearer {access_token}\r\nUser-Agent: {USER_AGENT}\r\n"
        self._get_headers = first + last
        self._headers = first + "Content-Type: application/json\r\n" + last

    def post(self, path: str, payload: bytes, timeout: float,
             headers: Sequence[Tuple[str, str]] = ()) -> Answer:
        """POST `payload` (JSON bytes) to `path`; LINE's answer, whatever its status."""
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        request = (f"POST {self._prefix}{path} HTTP/1.1\r\n{self._headers}{extra}"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode("latin-1") + payload
        return self._send(request, "POST", timeout)

    def get(self, path: str, timeout: float) -> Answer:
        """GET `path` (already quoted); LINE's answer, whatever its status."""
        request = f"GET {self._prefix}{path} HTTP/1.1\r\n{self._get_headers}\r\n"
        return self._send(request.encode("latin-1"), "GET", timeout)

    def _send(self, request: bytes, method: str, timeout: float) -> Answer:
        try:
            with gevent.Timeout(timeout, TimeoutError(f"no answer within {timeout:g} s")):
                return self._exchange(request, method, timeout)
        except HTTPException as exc:  # the answer did not parse: a broken exchange
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    def _exchange(self, request: bytes, method: str, timeout: float) -> Answer:
        try:
            sock = self._pool.get_socket()  # a kept-alive connection, or a new one
        except OSError as exc:  # the timeout too: gevent raises the TimeoutError given
            raise NotSent(f"no connection: {type(exc).__name__}") from exc
        ours = True
        try:
            sock.settimeout(timeout)
            try:
                sock.sendall(request)
            except OSError as exc:
                raise NotSent(f"not written: {type(exc).__name__}") from exc
            ours = False  # the response returns the socket to the pool, or closes it
            response = HTTPSocketPoolResponse(sock, self._pool, method=method)
        except BaseException:
            if ours:
                self._pool.release_socket(sock)
            raise
        body = response.read()
        return Answer(response.status_code, body, response.get("x-line-request-id") or "-")

    def close(self) -> None:
        self._pool.close()


def dumps(body: dict) -> bytes:
    """The request body as the SDK serialises it (json.dumps, ASCII, default separators)."""
    return json.dumps(body).encode("ascii")

