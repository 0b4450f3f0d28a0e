"""A stand-in for the LINE Messaging API platform, served on 127.0.0.1.

It answers the API calls the bot makes (push, reply, loading animation) the way LINE does,
records what each user would see, can misbehave on request (``Faults``), and sends the bot
signed webhooks shaped like LINE's. ``observers`` hear every accepted push and reply, and
``mount`` serves another WSGI app (the chat page) on the paths outside the API.

Clocks: ``Push.at``/``Reply.at`` and event timestamps use ``time.time()`` (freezegun sees
them); reply-token age and the rate-limit window use the real monotonic clock.
"""

import collections
import http
import itertools
import json
import logging
import re
import secrets
import socket
import time
import uuid
from typing import NamedTuple, Optional

import gevent
import urllib3
from gevent.pywsgi import WSGIServer

from simulator.changes import Changes, real_monotonic
from simulator.line_api import (
    AUTH_FAILED, FAILED_TO_SEND, INVALID_REPLY_TOKEN, LOADING_PATH, MONTHLY_LIMIT, MULTICAST_MAX,
    MULTICAST_PATH, PUSH_PATH, RATE_LIMITED, REPLY_PATH, RETRY_KEY_ACCEPTED, RETRY_KEY_INVALID,
    UUID_PATTERN, new_webhook_event_id,
)
from simulator.signing import sign

log = logging.getLogger(__name__)

REPLY_TOKEN_TTL_SECONDS = 60.0
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

_UUID = re.compile(UUID_PATTERN)
_STATUS_LINES = {}


def _status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"{status} {http.HTTPStatus(status).phrase}"
    return line


class Push(NamedTuple):
    """An accepted push: what the user saw, and the retry key it came with."""
    to: str
    texts: tuple
    retry_key: Optional[str]
    at: float
    quick_reply: tuple = ()


class Reply(NamedTuple):
    """An accepted reply; ``to`` is the user the reply token was issued for (None if unknown)."""
    to: Optional[str]
    texts: tuple
    reply_token: str
    at: float
    quick_reply: tuple = ()


class ApiRequest(NamedTuple):
    """One API request the platform answered."""
    path: str
    status: int


class Faults:
    """Misbehaviour to inject; every field may be changed while the platform runs."""

    def __init__(self):
        self.latency = 0.0              # seconds added to every API call
        self.rate_limit = None          # push/multicast/reply requests per second; None = unlimited
        self.fail_first_attempt = False  # first request per distinct retry key answers 500
        self.quota_exhausted = False    # pushes answer 429 "monthly limit"; reply still works
        self.blocked_users = set()      # a push to them is refused; a multicast skips them
        self._failures = collections.deque()
        self._hangs = collections.deque()

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next n push calls answer ``status`` and deliver nothing."""
        self._failures.extend([status] * n)

    def hang_next(self, n: int, seconds: float) -> None:
        """The next n push calls are handled normally but answered ``seconds`` late."""
        self._hangs.extend([seconds] * n)

    def take_failure(self) -> Optional[int]:
        return self._failures.popleft() if self._failures else None

    def take_hang(self) -> float:
        return self._hangs.popleft() if self._hangs else 0.0


class _Answer(NamedTuple):
    status: int
    payload: dict
    headers: tuple = ()


class _IssuedReplyToken:
    __slots__ = ("user_id", "issued_at", "used")

    def __init__(self, user_id):
        self.user_id = user_id
        self.issued_at = real_monotonic()
        self.used = False


class _RateWindow:
    """At most ``limit`` requests in the second that starts with the window's first request."""

    def __init__(self):
        self.started_at = float("-inf")
        self.count = 0

    def admit(self, limit: Optional[int]) -> bool:
        if limit is None:
            return True
        now = real_monotonic()
        if now - self.started_at >= 1.0:
            self.started_at, self.count = now, 0
        if self.count >= limit:
            return False
        self.count += 1
        return True


class NoDelayWSGIServer(WSGIServer):
    """gevent's WSGIServer with TCP_NODELAY on accepted sockets (else +44 ms per kept-alive response)."""

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def describe_message(message: dict) -> str:
    """The text of a text message, the altText of a Flex message, else its type in brackets,
    e.g. "[image]"."""
    if message.get("type") == "text":
        return message.get("text", "")
    if message.get("type") == "flex" and isinstance(message.get("altText"), str):
        return message["altText"]
    return f"[{message.get('type', 'unknown')}]"


def _quick_reply_labels(messages: list) -> tuple:
    labels = []
    for message in messages:
        for item in (message.get("quickReply") or {}).get("items", ()):
            action = item.get("action") or {}
            labels.append(action.get("label") or action.get("text") or action.get("displayText")
                          or action.get("data") or "")
    return tuple(labels)


class LinePlatform:
    """The LINE Messaging API and webhook sender, on 127.0.0.1."""

    def __init__(self, channel_secret: str, channel_token: str, webhook_url: Optional[str] = None):
        self.channel_secret = channel_secret
        self.channel_token = channel_token
        self.webhook_url = webhook_url
        self.bot_user_id = "U" + secrets.token_hex(16)   # the webhook "destination"
        self.reply_token_ttl = REPLY_TOKEN_TTL_SECONDS
        self.faults = Faults()
        self.pushes = []
        self.replies = []
        self.requests = []
        self._timeline = []            # (user_id, kind, text) in the order users saw them
        self._reply_tokens = {}        # token -> _IssuedReplyToken
        self._accepted_retry_keys = {}  # key -> (request id, sentMessages)
        self._seen_retry_keys = set()
        self._rate_window = _RateWindow()
        self._message_ids = itertools.count(500000000000000000)
        self._changes = Changes()
        self._server = None
        self._http = None
        self._site = None              # WSGI app for every path outside the API (the chat page)
        self.observers = []            # observer(kind, user_id, messages) per accepted push/reply
        self.rich_menus = {}           # rich menu id -> {"menu": dict, "image": Optional[bytes]}
        self.default_rich_menu_id = None
        self._routes = {
            PUSH_PATH: self._handle_push,
            MULTICAST_PATH: self._handle_multicast,
            REPLY_PATH: self._handle_reply,
            LOADING_PATH: self._handle_loading,
        }
        self._expected_authorization = "Bearer " + channel_token

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "LinePlatform":
        """Serve the API on host:port (0 = a free port); returns self."""
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the stand-in only listens on loopback, not {host!r}")
        self._server = NoDelayWSGIServer((host, port), self._wsgi_app, log=None)
        self._server.start()
        return self

    @property
    def base_url(self) -> str:
        """Where the API lives, e.g. "http://127.0.0.1:PORT" (the bot's LINE_API_BASE_URL)."""
        if self._server is None:
            raise RuntimeError("the platform is not started")
        host, port = self._server.address[:2]
        return f"http://{host}:{port}"

    def mount(self, site) -> None:
        """Serve the WSGI app ``site`` on every path outside the API (``/v2/...``)."""
        self._site = site

    def stop(self) -> None:
        """Stop serving (open connections are dropped) and close the webhook connections."""
        if self._server is not None:
            self._server.stop(timeout=0)
            self._server = None
        if self._http is not None:
            self._http.clear()
            self._http = None

    def reset(self) -> None:
        """Forget everything recorded and every fault; issued reply tokens stay valid."""
        self.faults = Faults()
        self.pushes.clear()
        self.replies.clear()
        self.requests.clear()
        self._timeline.clear()
        self._accepted_retry_keys.clear()
        self._seen_retry_keys.clear()
        self._rate_window = _RateWindow()

    # -- what users saw ----------------------------------------------------------------------

    def messages_for(self, user_id: str) -> list:
        """Everything ``user_id`` saw, in order, as (kind, text) with kind "reply" or "push"."""
        return [(kind, text) for user, kind, text in self._timeline if user == user_id]

    @property
    def changed(self):
        """A gevent Event set when the next request is recorded (each change brings a new one)."""
        return self._changes.event

    def wait_for(self, predicate, timeout: float = 5.0, what: Optional[str] = None):
        """Block until ``predicate(self)`` is truthy and return its value; AssertionError on timeout.

        The predicate is re-evaluated every time a request is recorded.
        """
        return self._changes.wait_for(lambda: predicate(self), timeout,
                                      lambda: self._timeout_report(predicate, timeout, what))

    def _timeout_report(self, predicate, timeout, what) -> str:
        description = what or getattr(predicate, "__name__", repr(predicate))
        return (f"timed out after {timeout}s waiting for {description}; "
                f"{len(self.pushes)} pushes (last: {self.pushes[-3:]}), "
                f"{len(self.replies)} replies (last: {self.replies[-3:]}), "
                f"last requests: {self.requests[-5:]}")

    # -- the API -----------------------------------------------------------------------------

    def _wsgi_app(self, environ, start_response):
        path = environ["PATH_INFO"]
        handler = self._routes.get(path)
        if handler is None and self._site is not None and not path.startswith("/v2/"):
            return self._site(environ, start_response)
        delay = 0.0
        if handler is None or environ["REQUEST_METHOD"] != "POST":
            answer = _Answer(404, {"message": "Not found"})
        else:
            if self.faults.latency:
                gevent.sleep(self.faults.latency)
            if environ.get("HTTP_AUTHORIZATION") != self._expected_authorization:
                answer = _Answer(401, {"message": AUTH_FAILED})
            else:
                answer, delay = handler(environ)
        self.requests.append(ApiRequest(path, answer.status))
        self._changes.notify()
        if delay:
            gevent.sleep(delay)
        body = json.dumps(answer.payload).encode("utf-8")
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        headers.extend(answer.headers)
        start_response(_status_line(answer.status), headers)
        return [body]

    @staticmethod
    def _read_json(environ) -> Optional[dict]:
        try:
            body = json.loads(environ["wsgi.input"].read())
        except ValueError:
            return None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return None
        return body

    def _sent_messages(self, count: int) -> list:
        return [{"id": str(next(self._message_ids)), "quoteToken": secrets.token_urlsafe(16)}
                for _ in range(count)]

    def _handle_push(self, environ):
        return self._handle_send(environ, multicast=False)

    def _handle_multicast(self, environ):
        return self._handle_send(environ, multicast=True)

    def _handle_send(self, environ, multicast):
        """A push (`to`: one user id) or a multicast (`to`: 1-500 user ids, one retry key for
        the request; recipients who blocked the bot are skipped, as LINE does)."""
        faults = self.faults
        if not self._rate_window.admit(faults.rate_limit):
            return _Answer(429, {"message": RATE_LIMITED}), 0.0
        delay = faults.take_hang()
        failure = faults.take_failure()
        if failure is not None:
            return _Answer(failure, {"message": http.HTTPStatus(failure).phrase}), delay
        body = self._read_json(environ)
        to = body.get("to") if body is not None else None
        if multicast:
            valid = (isinstance(to, list) and 1 <= len(to) <= MULTICAST_MAX
                     and all(isinstance(user_id, str) for user_id in to))
        else:
            valid = isinstance(to, str)
        if not valid:
            return _Answer(400, {"message": "The request body has 1 error(s)"}), delay
        retry_key = environ.get("HTTP_X_LINE_RETRY_KEY")
        if retry_key is not None:
            if not _UUID.match(retry_key):
                return _Answer(400, {"message": RETRY_KEY_INVALID}), delay
            accepted = self._accepted_retry_keys.get(retry_key)
            if accepted is not None:
                request_id, sent = accepted
                return _Answer(409, {"message": RETRY_KEY_ACCEPTED, "sentMessages": sent},
                               (("x-line-accepted-request-id", request_id),)), delay
            if faults.fail_first_attempt and retry_key not in self._seen_retry_keys:
                self._seen_retry_keys.add(retry_key)
                return _Answer(500, {"message": "Internal Server Error"}), delay
            self._seen_retry_keys.add(retry_key)
        if faults.quota_exhausted:
            return _Answer(429, {"message": MONTHLY_LIMIT}), delay
        messages = body["messages"]
        if not multicast and to in faults.blocked_users:
            return _Answer(400, {"message": FAILED_TO_SEND}), delay
        texts = tuple(describe_message(m) for m in messages)
        sent = self._sent_messages(len(messages))
        request_id = str(uuid.uuid4())
        if retry_key is not None:
            self._accepted_retry_keys[retry_key] = (request_id, sent)
        labels = _quick_reply_labels(messages)
        for user_id in (to if multicast else [to]):
            if user_id in faults.blocked_users:
                continue
            self.pushes.append(Push(user_id, texts, retry_key, time.time(), labels))
            self._timeline.extend((user_id, "push", text) for text in texts)
            self._tell_observers("push", user_id, messages)
        answer = {} if multicast else {"sentMessages": sent}
        return _Answer(200, answer, (("x-line-request-id", request_id),)), delay

    def _handle_reply(self, environ):
        if not self._rate_window.admit(self.faults.rate_limit):
            return _Answer(429, {"message": RATE_LIMITED}), 0.0
        body = self._read_json(environ)
        if body is None:
            return _Answer(400, {"message": "The request body has 1 error(s)"}), 0.0
        token = body.get("replyToken")
        issued = self._reply_tokens.get(token) if isinstance(token, str) else None
        if (issued is None or issued.used
                or real_monotonic() - issued.issued_at > self.reply_token_ttl):
            return _Answer(400, {"message": INVALID_REPLY_TOKEN}), 0.0
        issued.used = True
        messages = body["messages"]
        texts = tuple(describe_message(m) for m in messages)
        self.replies.append(Reply(issued.user_id, texts, token, time.time(),
                                  _quick_reply_labels(messages)))
        self._timeline.extend((issued.user_id, "reply", text) for text in texts)
        self._tell_observers("reply", issued.user_id, messages)
        request_id = str(uuid.uuid4())
        return _Answer(200, {"sentMessages": self._sent_messages(len(messages))},
                       (("x-line-request-id", request_id),)), 0.0

    def _tell_observers(self, kind: str, user_id: Optional[str], messages: list) -> None:
        for observer in self.observers:
            try:
                observer(kind, user_id, messages)
            except Exception:  # an observer must never break the API
                log.exception("platform observer failed on a %s", kind)

    def _handle_loading(self, environ):
        return _Answer(202, {}), 0.0

    # -- webhooks to the bot -----------------------------------------------------------------

    def post_events(self, events: list, signature: Optional[str] = None,
                    raw_body: Optional[bytes] = None, include_signature: bool = True) -> int:
        """POST a webhook to ``webhook_url``; returns the bot's HTTP status.

        The body is {"destination", "events"} unless ``raw_body`` is given; the signature is
        computed with the channel secret unless ``signature`` is given. Reply tokens in the
        events become valid for the API.
        """
        if not self.webhook_url:
            raise RuntimeError("set platform.webhook_url before sending webhooks")
        if raw_body is None:
            payload = {"destination": self.bot_user_id, "events": events}
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        else:
            body = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
        for event in events:
            token = event.get("replyToken")
            if token and token not in self._reply_tokens:
                self._reply_tokens[token] = _IssuedReplyToken((event.get("source") or {}).get("userId"))
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "LineBotWebhook/2.0"}
        if include_signature:
            headers["X-Line-Signature"] = signature if signature is not None else sign(
                self.channel_secret, body)
        if self._http is None:
            self._http = urllib3.PoolManager(maxsize=100, retries=False,
                                             timeout=urllib3.Timeout(connect=2.0, read=10.0))
        response = self._http.request("POST", self.webhook_url, body=body, headers=headers)
        return response.status

    def send_text(self, user_id: str, text: str) -> int:
        return self.post_events([self.make_text_event(user_id, text)])

    def send_sticker(self, user_id: str, package_id: str = "446", sticker_id: str = "1988") -> int:
        return self.post_events([self.make_sticker_event(user_id, package_id, sticker_id)])

    def send_location(self, user_id: str, title: str, address: str, latitude: float,
                      longitude: float) -> int:
        return self.post_events([self.make_location_event(user_id, title, address, latitude,
                                                          longitude)])

    def send_postback(self, user_id: str, data: str) -> int:
        return self.post_events([self.make_postback_event(user_id, data)])

    def follow(self, user_id: str) -> int:
        return self.post_events([self.make_follow_event(user_id)])

    def unfollow(self, user_id: str) -> int:
        return self.post_events([self.make_unfollow_event(user_id)])

    # -- webhook event objects (``overrides`` replace top-level keys) -------------------------

    def make_event(self, event_type: str, user_id: str, with_reply_token: bool = True,
                   **overrides) -> dict:
        event = {
            "type": event_type,
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user_id},
            "webhookEventId": new_webhook_event_id(),
            "deliveryContext": {"isRedelivery": False},
        }
        if with_reply_token:
            event["replyToken"] = secrets.token_hex(16)
        event.update(overrides)
        return event

    def _message_content(self, message_type: str, **fields) -> dict:
        return {"id": str(next(self._message_ids)), "type": message_type,
                "quoteToken": secrets.token_urlsafe(16), **fields}

    def make_text_event(self, user_id: str, text: str, **overrides) -> dict:
        message = self._message_content("text", text=text)
        return self.make_event("message", user_id, **{"message": message, **overrides})

    def make_sticker_event(self, user_id: str, package_id: str = "446", sticker_id: str = "1988",
                           **overrides) -> dict:
        message = self._message_content("sticker", packageId=package_id, stickerId=sticker_id,
                                        stickerResourceType="STATIC")
        return self.make_event("message", user_id, **{"message": message, **overrides})

    def make_location_event(self, user_id: str, title: str, address: str, latitude: float,
                            longitude: float, **overrides) -> dict:
        # LINE gives text and sticker messages a quoteToken, but not locations.
        message = {"id": str(next(self._message_ids)), "type": "location", "title": title,
                   "address": address, "latitude": latitude, "longitude": longitude}
        return self.make_event("message", user_id, **{"message": message, **overrides})

    def make_postback_event(self, user_id: str, data: str, **overrides) -> dict:
        return self.make_event("postback", user_id, **{"postback": {"data": data}, **overrides})

    def make_follow_event(self, user_id: str, is_unblocked: bool = False, **overrides) -> dict:
        return self.make_event("follow", user_id,
                               **{"follow": {"isUnblocked": is_unblocked}, **overrides})

    def make_unfollow_event(self, user_id: str, **overrides) -> dict:
        return self.make_event("unfollow", user_id, with_reply_token=False, **overrides)
