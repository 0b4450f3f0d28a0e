"""Signed LINE webhooks and a closed-loop load driver: C keep-alive connections, each sending
its next request as soon as the previous answer arrives (gevent sockets, no monkey-patching)."""
import itertools
import json
import secrets
import socket
import time
from typing import Callable, NamedTuple

from outbox.clock import real_seconds as monotonic
from simulator.line_api import new_webhook_event_id
from simulator.signing import sign


def text_event_body(user_id: str, text: str, reply_token: str, message_id: int = 1) -> bytes:
    """A one-event webhook body, shaped like LINE's (compact JSON, UTF-8)."""
    return webhook_body(user_event(user_id, reply_token, message=text_message(text, message_id)))


def user_event(user_id: str, reply_token: str, event_type: str = "message", **fields) -> dict:
    """One event from a user, as LINE sends it; `fields` are its own ("message", "postback")."""
    return {
        "type": event_type, "mode": "active", "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": new_webhook_event_id(),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token,
        **fields,
    }


def text_message(text: str, message_id: int = 1) -> dict:
    return {"id": str(message_id), "type": "text", "quoteToken": "q", "text": text}


def sticker_message(message_id: int = 1) -> dict:
    return {"id": str(message_id), "type": "sticker", "quoteToken": "q", "packageId": "446",
            "stickerId": "1988", "stickerResourceType": "STATIC"}


def webhook_body(event: dict) -> bytes:
    payload = {"destination": "Ubench", "events": [event]}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_request(port: int, body: bytes, secret: str) -> bytes:
    """The whole HTTP/1.1 request to /callback, keep-alive, with X-Line-Signature over the body."""
    head = (f"POST /callback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json; charset=utf-8\r\nUser-Agent: LineBotWebhook/2.0\r\n"
            f"X-Line-Signature: {sign(secret, body)}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


class WebhookFactory:
    """Builds the i-th request: user i mod len(users), a fresh reply token and event id;
    with `once`, each user once and then None (the load driver stops)."""

    def __init__(self, port, secret, users, text, once=False):
        self.port, self.secret, self.users, self.text = port, secret, users, text
        self._ids = itertools.count(0 if once else 1)
        self._once = once

    def __call__(self):
        i = next(self._ids)
        if self._once and i >= len(self.users):
            return None
        token = secrets.token_hex(16)
        body = text_event_body(self.users[i % len(self.users)], self.text, token, message_id=i)
        return token, signed_request(self.port, body, self.secret)


def post_once(port, request: bytes, timeout: float) -> int:
    """Send one ready request on a connection of its own; the status it was answered with
    (OSError when there was no answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock, bytearray()).status


class Answer(NamedTuple):
    status: int
    body: bytes


def read_response(sock, buffer: bytearray) -> Answer:
    """One HTTP/1.1 response with a Content-Length body; leftovers stay in `buffer`."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response headers")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    start = end + 4
    while len(buffer) < start + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the response body")
        buffer += chunk
    body = bytes(buffer[start:start + length])
    del buffer[:start + length]
    return Answer(status, body)


class LoadResult(NamedTuple):
    completed: int          # answers inside the measured window
    seconds: float          # length of the measured window
    latencies: list         # seconds, answers inside the measured window
    statuses: dict          # status -> count, whole run
    sent: dict              # reply token -> wall-clock send time (time.time()), whole run
    errors: int
    answers: dict           # reply token -> the status its webhook was answered with

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


def closed_loop(port: int, make_request: Callable, connections: int = 64,
                duration: float = 5.0, warmup: float = 1.0, offered: float = None) -> LoadResult:
    """Drive 127.0.0.1:port for warmup + duration seconds; the answers that arrive in the
    last `duration` seconds are the measured ones (throughput and latency). With `offered`
    (requests/s), each connection sends on a fixed schedule (its share of that rate) instead
    of as soon as its last answer came: latency at a load, not at saturation."""
    import gevent
    from gevent import socket

    gap = connections / offered if offered else 0.0
    started = monotonic()
    wall_offset = time.time() - started
    measure_from, stop_at = started + warmup, started + warmup + duration
    latencies, statuses, sent, answers = [], {}, {}, {}
    errors = [0]

    def worker(n):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()
        next_send = started + gap * n / connections
        try:
            while True:
                if gap:
                    next_send += gap
                    wait = next_send - monotonic()
                    if wait > 0:
                        gevent.sleep(wait)
                made = make_request()
                if made is None:
                    return
                token, request = made
                begin = monotonic()
                if begin >= stop_at:
                    return
                sent[token] = begin + wall_offset
                sock.sendall(request)
                answer = read_response(sock, buffer)
                end = monotonic()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                answers[token] = answer.status
                if measure_from <= end <= stop_at:
                    latencies.append(end - begin)
        except OSError:
            errors[0] += 1
        finally:
            sock.close()

    workers = [gevent.spawn(worker, n) for n in range(connections)]
    gevent.joinall(workers, timeout=warmup + duration + 30)
    gevent.killall(workers)
    return LoadResult(len(latencies), duration, latencies, statuses, sent, errors[0], answers)
