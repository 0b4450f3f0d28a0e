"""A lean LINE Messaging API stand-in for benchmarks, meant to run in its own process
(`python -m bench.standin`), so that it does not steal CPU from the driver.

It keeps simulator.platform.LinePlatform's push/reply contract (200 + sentMessages, 409 +
sentMessages for a repeated X-Line-Retry-Key, 401 on a wrong token, 429 "Too Many Requests"
above the rate limit, a latency added to every call) on a minimal HTTP/1.1 keep-alive server
(gevent StreamServer), because pywsgi + LinePlatform's bookkeeping cost more CPU per request
than the bot can spare on 2 cores. It also takes multicasts (`to`: 1-500 user ids, one retry
key for the request, one entry in `pushes` per recipient, one `attempts` entry per request), so
that the bench can time a batched send (bench.breakdown), and answers profiles (every user is
a friend) and the message quota (no limit; every recorded push counts). Differences: any reply
token is accepted once (the webhooks come from another process), and records are compact
tuples, fetched over HTTP:

    GET  /_bench/stats     counts
    GET  /_bench/records   {"pushes": [[to, text, t, button]], "replies": [[token, text, t]],
                            "attempts": [t, ...], "status": {"200": n, ...}}
    POST /_bench/pushes    {"since": n, "wait": s} -> {"pushes": pushes[n:]}, as soon as there
                           is one, or empty after `wait` seconds (a long poll)
    POST /_bench/config    {"latency": s, "rate_limit": n or null}
    POST /_bench/reset

`t` is the wall-clock time (time.time()) the request arrived, before the injected latency;
`button` is the postback data of the first quick-reply button of the push's last message
(an ask's 飲んだ!), or null. Requests are counted against the rate limit as they arrive, as
LINE counts them when they come.
"""
import argparse
import collections
import itertools
import json
import re
import socket
import sys
import time

from outbox.clock import real_seconds as _monotonic
from simulator.line_api import (
    AUTH_FAILED, INVALID_REPLY_TOKEN, LOADING_PATH, MULTICAST_MAX, MULTICAST_PATH, NOT_FOUND,
    PROFILE_PATH, PUSH_PATH, QUOTA_CONSUMPTION_PATH, QUOTA_PATH, RATE_LIMITED, REPLY_PATH,
    RETRY_KEY_ACCEPTED, RETRY_KEY_INVALID, UUID_PATTERN,
)

_UUID = re.compile(UUID_PATTERN.encode())
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 409: "Conflict", 429: "Too Many Requests"}


class SlidingWindow:
    """Admits at most `limit` requests in any `window` seconds (None: unlimited)."""

    def __init__(self, limit=None, window=1.0):
        self.limit = limit
        self.window = window
        self._times = collections.deque()

    def admit(self, now: float) -> bool:
        if self.limit is None:
            return True
        times = self._times
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


class StandIn:
    """The API's decisions, free of sockets: `handle()` maps one request to one answer."""

    def __init__(self, channel_token: str, latency: float = 0.0, rate_limit=None,
                 clock=_monotonic):
        self.authorization = ("Bearer " + channel_token).encode()
        self.latency = latency
        self.window = SlidingWindow(rate_limit)
        self.clock = clock
        self.on_push = lambda: None   # serve() wakes the long polls of /_bench/pushes
        self.reset()

    def reset(self):
        self.pushes = []      # (to, first text, arrived, first button's postback data)
        self.replies = []     # (reply token, first text, arrived)
        self.attempts = []    # arrival time of every push/reply request, refused or not
        self.status = collections.Counter()
        self._accepted = {}   # retry key -> sentMessages
        self._used_tokens = set()
        self._ids = itertools.count(500000000000000000)
        self.window = SlidingWindow(self.window.limit, self.window.window)

    def configure(self, latency=None, rate_limit=...):
        if latency is not None:
            self.latency = float(latency)
        if rate_limit is not ...:
            self.window = SlidingWindow(rate_limit)

    def _sent(self, count):
        return [{"id": str(next(self._ids)), "quoteToken": "q"} for _ in range(count)]

    def handle(self, method: str, path: str, headers: dict, body: bytes, arrived: float):
        """(status, payload dict); `headers` has lower-case bytes names and bytes values."""
        if path.startswith("/_bench/"):
            return self._control(method, path, body)
        if method == "GET" and (path in (QUOTA_PATH, QUOTA_CONSUMPTION_PATH)
                                or path.startswith(PROFILE_PATH)):
            return self._account(path, headers)
        if method != "POST" or path not in (PUSH_PATH, REPLY_PATH, MULTICAST_PATH,
                                            LOADING_PATH):
            return self._count(404, {"message": NOT_FOUND})
        if headers.get(b"authorization") != self.authorization:
            return self._count(401, {"message": AUTH_FAILED})
        if path == LOADING_PATH:
            return self._count(202, {})
        self.attempts.append(arrived)
        if not self.window.admit(self.clock()):
            return self._count(429, {"message": RATE_LIMITED})
        try:
            data = json.loads(body)
            messages = data["messages"]
            text = messages[0].get("text", "[%s]" % messages[0].get("type"))
            button = _first_postback(messages[-1])
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return self._count(400, {"message": "The request body has 1 error(s)"})
        if path == REPLY_PATH:
            token = data.get("replyToken")
            if not isinstance(token, str) or token in self._used_tokens:
                return self._count(400, {"message": INVALID_REPLY_TOKEN})
            self._used_tokens.add(token)
            self.replies.append((token, text, arrived))
            return self._count(200, {"sentMessages": self._sent(len(messages))})
        to = data.get("to")
        if path == MULTICAST_PATH:
            if (not isinstance(to, list) or not 1 <= len(to) <= MULTICAST_MAX
                    or not all(isinstance(uid, str) for uid in to)):
                return self._count(400, {"message": "The request body has 1 error(s)"})
        elif not isinstance(to, str):
            return self._count(400, {"message": "The request body has 1 error(s)"})
        key = headers.get(b"x-line-retry-key")
        if key is not None:
            if not _UUID.match(key):
                return self._count(400, {"message": RETRY_KEY_INVALID})
            sent = self._accepted.get(key)
            if sent is not None:
                return self._count(409, {"message": RETRY_KEY_ACCEPTED, "sentMessages": sent})
        sent = self._sent(len(messages))
        if key is not None:
            self._accepted[key] = sent
        if path == MULTICAST_PATH:
            self.pushes.extend((uid, text, arrived, button) for uid in to)
            self.on_push()
            return self._count(200, {})
        self.pushes.append((to, text, arrived, button))
        self.on_push()
        return self._count(200, {"sentMessages": sent})

    def _account(self, path, headers):
        """Every user is a friend named after their id; no monthly limit; each recorded push
        counts once."""
        if headers.get(b"authorization") != self.authorization:
            return self._count(401, {"message": AUTH_FAILED})
        if path == QUOTA_PATH:
            return self._count(200, {"type": "none"})
        if path == QUOTA_CONSUMPTION_PATH:
            return self._count(200, {"totalUsage": len(self.pushes)})
        user_id = path[len(PROFILE_PATH):]
        return self._count(200, {"userId": user_id, "displayName": f"bench {user_id[:7]}"})

    def _count(self, status, payload):
        self.status[status] += 1
        return status, payload

    def stats(self):
        return {"pushes": len(self.pushes), "replies": len(self.replies),
                "attempts": len(self.attempts), "status": dict(self.status),
                "latency": self.latency, "rate_limit": self.window.limit}

    def _control(self, method, path, body):
        if path == "/_bench/stats":
            return 200, self.stats()
        if path == "/_bench/records":
            return 200, {"pushes": self.pushes, "replies": self.replies,
                         "attempts": self.attempts, "status": dict(self.status)}
        if path == "/_bench/pushes" and method == "POST":
            since = json.loads(body or b"{}").get("since", 0)
            return 200, {"pushes": self.pushes[since:]}
        if path == "/_bench/reset" and method == "POST":
            self.reset()
            return 200, {}
        if path == "/_bench/config" and method == "POST":
            options = json.loads(body or b"{}")
            self.configure(options.get("latency"), options.get("rate_limit", ...))
            return 200, self.stats()
        return 404, {"message": NOT_FOUND}


def _first_postback(message):
    for item in (message.get("quickReply") or {}).get("items", ()):
        return item["action"].get("data")
    return None


def response_bytes(status: int, payload: dict) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"x-line-request-id: bench\r\n\r\n")
    return head.encode() + body


def serve(standin: StandIn, host: str = "127.0.0.1", port: int = 0):
    """A StreamServer speaking just enough HTTP/1.1 (Content-Length bodies, keep-alive)."""
    import gevent
    from gevent.event import Event
    from gevent.server import StreamServer

    # Each push sets the event the long polls wait on and puts a fresh one in its place.
    pushed = [Event()]
    standin.poll_waiting = Event()  # set once a long poll waits (a test knows it is parked)

    def wake_long_polls():
        pushed[0].set()
        pushed[0] = Event()

    def wait_for_a_push(body):
        options = json.loads(body or b"{}")
        if len(standin.pushes) <= options.get("since", 0):
            standin.poll_waiting.set()
            pushed[0].wait(min(float(options.get("wait", 0)), 30.0))

    standin.on_push = wake_long_polls

    def connection(sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = sock.makefile("rb")
        try:
            while True:
                line = rfile.readline(65537)
                if not line:
                    return
                method, target, _ = line.split(b" ", 2)
                headers = {}
                while True:
                    header = rfile.readline(65537)
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", 0))
                body = rfile.read(length) if length else b""
                arrived = time.time()
                path = target.decode("latin-1").split("?", 1)[0]
                if path == "/_bench/pushes":
                    wait_for_a_push(body)
                # Counted (the rate limit too) as it arrives, answered after the latency.
                status, payload = standin.handle(method.decode("latin-1"), path, headers, body,
                                                 arrived)
                if standin.latency and not path.startswith("/_bench/"):
                    gevent.sleep(standin.latency)
                sock.sendall(response_bytes(status, payload))
                if headers.get(b"connection", b"").lower() == b"close":
                    return
        except (OSError, ValueError):
            return
        finally:
            rfile.close()
            sock.close()

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the stand-in listens on loopback only")
    server = StreamServer((host, port), connection, backlog=1024)
    server.start()
    return server


def main(argv=None):
    from gevent import monkey
    monkey.patch_all()
    import signal

    import gevent
    import gevent.event

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    args = parser.parse_args(argv)
    standin = StandIn(args.token, args.latency, args.rate_limit)
    server = serve(standin, port=args.port)
    sys.stdout.write(f"{server.server_port}\n")
    sys.stdout.flush()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    stop.wait()
    server.stop(timeout=0.5)


if __name__ == "__main__":
    main()
