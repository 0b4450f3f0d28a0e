"""A stand-in for the LINE Messaging API platform, served on 127.0.0.1.

It answers the API calls the bot makes (push, reply, loading animation, profiles, the
message quota, rich menus) the way LINE does, records what each user would see, can misbehave
on request (``Faults``), and sends the bot signed webhooks shaped like LINE's. ``observers``
hear every accepted push and reply, and ``mount`` serves another WSGI app (the chat page) on
the paths outside the API. LINE serves rich menu images from another host (api-data.line.me);
the stand-in serves both hosts' paths on its one port.

Clocks: ``Push.at``/``Reply.at`` and event timestamps use ``time.time()`` (freezegun sees
them); reply-token age and the rate-limit window use the real monotonic clock.
"""

import collections
import datetime
import http
import itertools
import json
import logging
import re
import secrets
import socket
import time
import uuid
from typing import Callable, NamedTuple, Optional

import gevent
import urllib3
from gevent.pywsgi import WSGIServer

from simulator import rich_menus
from outbox.clock import real_seconds as real_monotonic
from simulator.changes import Changes
from simulator.line_api import (
    AUTH_FAILED, DEFAULT_RICH_MENU_PATH, FAILED_TO_SEND, INVALID_REPLY_TOKEN, LOADING_PATH,
    MONTHLY_LIMIT, MULTICAST_MAX, MULTICAST_PATH, NOT_FOUND, PROFILE_PATH, PUSH_PATH,
    QUOTA_CONSUMPTION_PATH, QUOTA_PATH, RATE_LIMITED, REPLY_PATH, RETRY_KEY_ACCEPTED,
    RETRY_KEY_INVALID, RICH_MENU_LIST_PATH, RICH_MENU_PATH, UUID_PATTERN, new_webhook_event_id,
)
from simulator.signing import sign

log = logging.getLogger(__name__)

REPLY_TOKEN_TTL_SECONDS = 60.0
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# LINE's message quota is a calendar month in Japan time.
QUOTA_ZONE = datetime.timezone(datetime.timedelta(hours=9))

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
    """An accepted reply; ``to`` is the user the reply token was issued for (None if unknown).
    ``messages``: the message objects as sent."""
    to: Optional[str]
    texts: tuple
    reply_token: str
    at: float
    quick_reply: tuple = ()
    messages: tuple = ()


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
        self.blocked_users = set()      # a push to them is refused; a multicast skips them;
                                        # their profile is not found
        self.held = None                # an Event: every API call waits for it to be set
        self.answers_held = None        # an Event: a push or multicast is taken (users see
                                        # it) but its answer waits for the Event to be set
        self._failures = collections.deque()
        self._reply_failures = collections.deque()
        self._hangs = collections.deque()

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next n push calls answer ``status`` and deliver nothing."""
        self._failures.extend([status] * n)

    def fail_next_replies(self, n: int, status: int = 500) -> None:
        """The next n reply calls answer ``status``, show nothing and leave the token good."""
        self._reply_failures.extend([status] * n)

    def take_reply_failure(self) -> Optional[int]:
        return self._reply_failures.popleft() if self._reply_failures else None

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
        # Who the users are: user id -> {"displayName", "pictureUrl"?, "language"?,
        # "statusMessage"?}; then each lookup(user_id) -> such a dict or None, in order.
        self.profiles = {}
        self.profile_lookups: list[Callable[[str], Optional[dict]]] = []
        self.quota_limit = None        # messages a month (LINE's "limited"); None: no limit
        self._usage = collections.Counter()  # "YYYY-MM" (Japan time) -> messages counted
        # The channel's rich menus: id -> {"menu": the object as created, "image": bytes or
        # None}, and the one every user sees unless linked to another.
        self.rich_menus = {}
        self.default_rich_menu_id = None
        self._routes = {               # POST path -> handler(environ)
            PUSH_PATH: self._handle_push,
            MULTICAST_PATH: self._handle_multicast,
            REPLY_PATH: self._handle_reply,
            LOADING_PATH: self._handle_loading,
            RICH_MENU_PATH: self._handle_create_rich_menu,
        }
        # Other methods and paths with ids: (method, pattern, handler(environ, *ids)).
        part = "([^/]+)"  # a user id or a rich menu id; LINE's paths need no regex escaping
        self._patterns = [
            (method, re.compile(pattern), handler) for method, pattern, handler in (
                ("GET", PROFILE_PATH + part, self._handle_profile),
                ("GET", QUOTA_PATH, self._handle_quota),
                ("GET", QUOTA_CONSUMPTION_PATH, self._handle_consumption),
                ("GET", RICH_MENU_LIST_PATH, self._handle_list_rich_menus),
                ("GET", f"{RICH_MENU_PATH}/{part}", self._handle_get_rich_menu),
                ("DELETE", f"{RICH_MENU_PATH}/{part}", self._handle_delete_rich_menu),
                ("POST", f"{RICH_MENU_PATH}/{part}/content", self._handle_rich_menu_image),
                ("GET", DEFAULT_RICH_MENU_PATH, self._handle_get_default),
                ("POST", f"{DEFAULT_RICH_MENU_PATH}/{part}", self._handle_set_default),
                ("DELETE", DEFAULT_RICH_MENU_PATH, self._handle_cancel_default),
            )]
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
        """Forget everything recorded, every fault and the quota limit; issued reply tokens,
        profiles and rich menus stay."""
        self.faults = Faults()
        self.quota_limit = None
        self._usage.clear()
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

    def _route(self, method: str, path: str):
        """(handler, path arguments), or (None, ()) when LINE has no such endpoint."""
        handler = self._routes.get(path) if method == "POST" else None
        if handler is not None:
            return handler, ()
        for route_method, pattern, handler in self._patterns:
            if route_method == method:
                match = pattern.fullmatch(path)
                if match:
                    return handler, match.groups()
        return None, ()

    def _wsgi_app(self, environ, start_response):
        path = environ["PATH_INFO"]
        if self._site is not None and not path.startswith("/v2/"):
            return self._site(environ, start_response)
        handler, arguments = self._route(environ["REQUEST_METHOD"], path)
        delay = 0.0
        if handler is None:
            answer = _Answer(404, {"message": NOT_FOUND})
        else:
            if self.faults.latency:
                gevent.sleep(self.faults.latency)
            if self.faults.held is not None:
                self.faults.held.wait()
            if environ.get("HTTP_AUTHORIZATION") != self._expected_authorization:
                answer = _Answer(401, {"message": AUTH_FAILED})
            else:
                answer, delay = handler(environ, *arguments)
        self.requests.append(ApiRequest(path, answer.status))
        self._changes.notify()
        if self.faults.answers_held is not None and path in (PUSH_PATH, MULTICAST_PATH):
            self.faults.answers_held.wait()
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
        recipients = [user_id for user_id in (to if multicast else [to])
                      if user_id not in faults.blocked_users]
        month = self._quota_month()
        if faults.quota_exhausted or not self._quota_allows(len(recipients), month):
            return _Answer(429, {"message": MONTHLY_LIMIT}), delay
        messages = body["messages"]
        if not multicast and not recipients:
            return _Answer(400, {"message": FAILED_TO_SEND}), delay
        texts = tuple(describe_message(m) for m in messages)
        sent = self._sent_messages(len(messages))
        request_id = str(uuid.uuid4())
        if retry_key is not None:
            self._accepted_retry_keys[retry_key] = (request_id, sent)
        labels = _quick_reply_labels(messages)
        self._usage[month] += len(recipients)
        for user_id in recipients:
            self.pushes.append(Push(user_id, texts, retry_key, time.time(), labels))
            self._timeline.extend((user_id, "push", text) for text in texts)
            self._tell_observers("push", user_id, messages)
        answer = {} if multicast else {"sentMessages": sent}
        return _Answer(200, answer, (("x-line-request-id", request_id),)), delay

    def _handle_reply(self, environ):
        if not self._rate_window.admit(self.faults.rate_limit):
            return _Answer(429, {"message": RATE_LIMITED}), 0.0
        failure = self.faults.take_reply_failure()
        if failure is not None:
            return _Answer(failure, {"message": http.HTTPStatus(failure).phrase}), 0.0
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
                                  _quick_reply_labels(messages), tuple(messages)))
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

    # -- profiles and the message quota ------------------------------------------------------

    def profile(self, user_id: str) -> Optional[dict]:
        """What LINE tells the bot about a user who has it as a friend; None otherwise."""
        if user_id in self.faults.blocked_users:
            return None
        found = self.profiles.get(user_id)
        for lookup in self.profile_lookups:
            if found is None:
                found = lookup(user_id)
        return None if found is None else {"userId": user_id, **found}

    def _handle_profile(self, environ, user_id):
        found = self.profile(user_id)
        if found is None:
            return _Answer(404, {"message": NOT_FOUND}), 0.0
        return _Answer(200, found), 0.0

    @staticmethod
    def _quota_month() -> str:
        return datetime.datetime.fromtimestamp(time.time(), QUOTA_ZONE).strftime("%Y-%m")

    def messages_this_month(self) -> int:
        """Messages counted against the quota this month, as LINE counts them: one per
        recipient of an accepted push or multicast (users who blocked the bot are skipped);
        replies are free."""
        return self._usage[self._quota_month()]

    def _quota_allows(self, recipients: int, month: str) -> bool:
        return self.quota_limit is None or (
            self._usage[month] + recipients <= self.quota_limit)

    def _handle_quota(self, environ):
        if self.quota_limit is None:
            return _Answer(200, {"type": "none"}), 0.0
        return _Answer(200, {"type": "limited", "value": self.quota_limit}), 0.0

    def _handle_consumption(self, environ):
        return _Answer(200, {"totalUsage": self.messages_this_month()}), 0.0

    # -- rich menus ----------------------------------------------------------------------------

    def _handle_create_rich_menu(self, environ):
        try:
            menu = json.loads(environ["wsgi.input"].read())
        except ValueError:
            menu = None
        problems = rich_menus.menu_problems(menu)
        if problems:
            return _Answer(400, {"message": f"The request body has {len(problems)} error(s)",
                                 "details": problems}), 0.0
        if len(self.rich_menus) >= rich_menus.MAX_RICH_MENUS:
            return _Answer(400, {"message": "The number of rich menus has reached the limit "
                                            f"({rich_menus.MAX_RICH_MENUS})"}), 0.0
        rich_menu_id = "richmenu-" + secrets.token_hex(16)
        kept = {field: menu[field] for field in rich_menus.MENU_FIELDS}
        self.rich_menus[rich_menu_id] = {"menu": kept, "image": None}
        return _Answer(200, {"richMenuId": rich_menu_id}), 0.0

    def _rich_menu_answer(self, rich_menu_id):
        return {"richMenuId": rich_menu_id, **self.rich_menus[rich_menu_id]["menu"]}

    def _handle_list_rich_menus(self, environ):
        return _Answer(200, {"richmenus": [self._rich_menu_answer(rich_menu_id)
                                           for rich_menu_id in self.rich_menus]}), 0.0

    def _handle_get_rich_menu(self, environ, rich_menu_id):
        if rich_menu_id not in self.rich_menus:
            return _Answer(404, {"message": NOT_FOUND}), 0.0
        return _Answer(200, self._rich_menu_answer(rich_menu_id)), 0.0

    def _handle_delete_rich_menu(self, environ, rich_menu_id):
        if self.rich_menus.pop(rich_menu_id, None) is None:
            return _Answer(404, {"message": NOT_FOUND}), 0.0
        if self.default_rich_menu_id == rich_menu_id:
            self.default_rich_menu_id = None
        return _Answer(200, {}), 0.0

    def _handle_rich_menu_image(self, environ, rich_menu_id):
        entry = self.rich_menus.get(rich_menu_id)
        if entry is None:
            return _Answer(404, {"message": NOT_FOUND}), 0.0
        if entry["image"] is not None:
            return _Answer(400, {"message": "An image has already been uploaded to the "
                                            "richmenu"}), 0.0
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(min(length, rich_menus.MAX_IMAGE_BYTES + 1))
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        refused = rich_menus.image_problem(entry["menu"], content_type, data)
        if refused is not None:
            status, message = refused
            return _Answer(status, {"message": message}), 0.0
        entry["image"] = data
        return _Answer(200, {}), 0.0

    def _handle_set_default(self, environ, rich_menu_id):
        entry = self.rich_menus.get(rich_menu_id)
        if entry is None:
            return _Answer(404, {"message": NOT_FOUND}), 0.0
        if entry["image"] is None:
            return _Answer(400, {"message": "must upload richmenu image before applying it to "
                                            "user"}), 0.0
        self.default_rich_menu_id = rich_menu_id
        return _Answer(200, {}), 0.0

    def _handle_get_default(self, environ):
        if self.default_rich_menu_id is None:
            return _Answer(404, {"message": "no default richmenu"}), 0.0
        return _Answer(200, {"richMenuId": self.default_rich_menu_id}), 0.0

    def _handle_cancel_default(self, environ):
        self.default_rich_menu_id = None
        return _Answer(200, {}), 0.0

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
                self.issue_reply_token((event.get("source") or {}).get("userId"), token)
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

    def issue_reply_token(self, user_id: Optional[str], token: Optional[str] = None) -> str:
        """A reply token good for one reply to ``user_id`` (as a webhook to the bot carries)."""
        token = token or secrets.token_hex(16)
        self._reply_tokens[token] = _IssuedReplyToken(user_id)
        return token

    def send_text(self, user_id: str, text: str) -> int:
        return self.post_events([self.make_text_event(user_id, text)])

    def send_sticker(self, user_id: str, package_id: str = "446", sticker_id: str = "1988") -> int:
        return self.post_events([self.make_sticker_event(user_id, package_id, sticker_id)])

    def send_location(self, user_id: str, title: str, address: str, latitude: float,
                      longitude: float) -> int:
        return self.post_events([self.make_location_event(user_id, title, address, latitude,
                                                          longitude)])

    def send_postback(self, user_id: str, data: str, params: Optional[dict] = None) -> int:
        return self.post_events([self.make_postback_event(user_id, data, params)])

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

    def make_postback_event(self, user_id: str, data: str, params: Optional[dict] = None,
                            **overrides) -> dict:
        """A tap on a postback action; a datetimepicker's carries what was picked as
        ``params``, e.g. {"time": "08:15"}."""
        postback = {"data": data} if params is None else {"data": data, "params": params}
        return self.make_event("postback", user_id, **{"postback": postback, **overrides})

    def make_follow_event(self, user_id: str, is_unblocked: bool = False, **overrides) -> dict:
        return self.make_event("follow", user_id,
                               **{"follow": {"isUnblocked": is_unblocked}, **overrides})

    def make_unfollow_event(self, user_id: str, **overrides) -> dict:
        return self.make_event("unfollow", user_id, with_reply_token=False, **overrides)
