"""The chat page: simulated LINE users talking to the bot through the platform stand-in.

``ChatHub`` keeps every simulated user's conversation in this process (and, given a path, in
a JSON file, so a restart keeps it too). What the page sends becomes a signed webhook
(``LinePlatform.post_events``) to the bot's real ``/callback``; every push and reply the
platform accepts becomes a bubble, streamed to the page as server-sent events.

The page also shows the platform's default rich menu under the chat (``page_shapes.rich_menu``);
each event stream sends it when it connects and whenever it changes.

``create_app(hub)`` is the page and its JSON API, a WSGI app for ``LinePlatform.mount``.
"""

import json
import logging
import os
import re
import secrets
import time
import urllib.parse
from typing import Optional

import gevent
import urllib3
from bottle import Bottle, HTTPResponse, request, response, static_file

from simulator import page_shapes
from simulator.changes import Changes
from simulator.platform import LOOPBACK_HOSTS

log = logging.getLogger(__name__)

STATIC_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_MESSAGES_PER_USER = 500
MAX_LOGGED_EVENTS = 5000
MAX_TEXT_CHARS = 5000        # LINE's limit for a text message
MAX_NAME_CHARS = 20
MAX_LOCATION_CHARS = 100     # LINE's limit for a location's title and address
HEARTBEAT_SECONDS = 15.0
SAVE_DELAY_SECONDS = 0.2
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")


class ChatUser:
    __slots__ = ("id", "name", "blocked", "messages")

    def __init__(self, user_id, name, blocked=False, messages=None):
        self.id = user_id
        self.name = name
        self.blocked = blocked
        self.messages = messages if messages is not None else []

    def summary(self) -> dict:
        return {"id": self.id, "name": self.name, "blocked": self.blocked}

    def to_dict(self) -> dict:
        return {**self.summary(), "messages": self.messages}


class Refused(Exception):
    """What the page asked for cannot happen (unknown user, blocked, bad input)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class ChatHub:
    """Every simulated user's chat with the bot, and the stream of changes to it."""

    def __init__(self, platform, *, info: Optional[dict] = None,
                 history_path: Optional[str] = None, clock=time.time,
                 max_messages: int = MAX_MESSAGES_PER_USER):
        self.platform = platform
        self.info = dict(info or {})     # shown by the page: bot name, zone, snooze interval, ...
        self.clock = clock                # "now" for bubble times and "in 1 minute"
        self.max_messages = max_messages
        self.users = {}                   # user id -> ChatUser, in the order they were added
        self.closed = False
        self._seq = 0                     # last event number
        self._floor = 0                   # every event after this one is in the log
        self._log = []                    # events, oldest first
        self._next_message = 0
        self._changes = Changes()
        self._history_path = history_path
        self._save_later = None
        if history_path:
            self._load()
        platform.observers.append(self._on_platform)
        platform.profile_lookups.append(self.profile)

    # -- what the page does ------------------------------------------------------------------

    def add_user(self, name: Optional[str] = None) -> ChatUser:
        """A new LINE user adds the bot as a friend (a follow event)."""
        name = (name or "").strip()[:MAX_NAME_CHARS] or self._next_name()
        user = ChatUser("U" + secrets.token_hex(16), name)
        self.users[user.id] = user
        self._publish({"type": "user", "user": user.summary()})
        self._deliver(user, self.platform.make_follow_event(user.id))
        return user

    def block(self, user_id: str) -> None:
        user = self._user(user_id)
        if user.blocked:
            return
        user.blocked = True
        self.platform.faults.blocked_users.add(user.id)
        self._publish({"type": "user", "user": user.summary()})
        self._deliver(user, self.platform.make_unfollow_event(user.id))

    def unblock(self, user_id: str) -> None:
        user = self._user(user_id)
        if not user.blocked:
            return
        user.blocked = False
        self.platform.faults.blocked_users.discard(user.id)
        self._publish({"type": "user", "user": user.summary()})
        self._deliver(user, self.platform.make_follow_event(user.id, is_unblocked=True))

    def send_text(self, user_id: str, text: str) -> dict:
        user = self._sender(user_id)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise Refused(400, f"a text needs 1 to {MAX_TEXT_CHARS} characters")
        bubble = self._bubble(user, "user", "text", text=text)
        return self._deliver(user, self.platform.make_text_event(user.id, text), bubble)

    def send_sticker(self, user_id: str, package_id: str, sticker_id: str) -> dict:
        user = self._sender(user_id)
        if not all(isinstance(v, str) and v.isdigit() for v in (package_id, sticker_id)):
            raise Refused(400, "packageId and stickerId are digit strings")
        bubble = self._bubble(user, "user", "sticker",
                              sticker={"packageId": package_id, "stickerId": sticker_id})
        event = self.platform.make_sticker_event(user.id, package_id, sticker_id)
        return self._deliver(user, event, bubble)

    def send_location(self, user_id: str, title: str, address: str, latitude: float,
                      longitude: float) -> dict:
        """A location message (LINE's "位置情報"): a place's name, address and coordinates."""
        user = self._sender(user_id)
        if not all(isinstance(v, str) and 0 < len(v.strip()) <= MAX_LOCATION_CHARS
                   for v in (title, address)):
            raise Refused(400, f"title and address need 1 to {MAX_LOCATION_CHARS} characters")
        if not (_is_number(latitude) and -90 <= latitude <= 90
                and _is_number(longitude) and -180 <= longitude <= 180):
            raise Refused(400, "latitude is -90..90 and longitude -180..180")
        location = {"title": title, "address": address, "latitude": latitude,
                    "longitude": longitude}
        bubble = self._bubble(user, "user", "location", location=location)
        event = self.platform.make_location_event(user.id, title, address, latitude, longitude)
        return self._deliver(user, event, bubble)

    def send_postback(self, user_id: str, data: str, display_text: Optional[str] = None,
                      params: Optional[dict] = None) -> dict:
        """A postback button: LINE shows ``displayText`` (if any) as the user's message. A
        datetimepicker sends what was picked as ``params`` ({"time": "HH:mm"}) and shows
        nothing."""
        user = self._sender(user_id)
        if not isinstance(data, str) or not data or len(data) > 300:
            raise Refused(400, "postback data needs 1 to 300 characters")
        if params is not None and not _picked(params):
            raise Refused(400, 'params is one of {"date"|"time"|"datetime": "..."}')
        bubble = None
        if display_text:
            bubble = self._bubble(user, "user", "text", text=str(display_text)[:300])
        event = self.platform.make_postback_event(user.id, data, params)
        return self._deliver(user, event, bubble)

    def profile(self, user_id: str) -> Optional[dict]:
        """The user's LINE profile as the platform gives it to the bot (None: not known)."""
        user = self.users.get(user_id)
        return None if user is None else {"displayName": user.name, "language": "ja"}

    # -- what the platform accepted ----------------------------------------------------------

    def _on_platform(self, kind: str, user_id: Optional[str], messages: list) -> None:
        if user_id is None:
            return
        user = self.users.get(user_id)
        if user is None:  # a user this page never made (e.g. one restored from Redis)
            user = self.users[user_id] = ChatUser(user_id, self._next_name())
            self._publish({"type": "user", "user": user.summary()})
        for message in messages:
            shape = page_shapes.bot_bubble(message)
            self._bubble(user, "bot", shape.pop("type"), **shape, via=kind,
                         quickReply=page_shapes.quick_reply(message))

    # -- the event stream --------------------------------------------------------------------

    @property
    def seq(self) -> int:
        return self._seq

    def events_after(self, since: int) -> Optional[list]:
        """Events numbered after ``since``; None when they are no longer (or not) known."""
        if since < self._floor or since > self._seq:
            return None
        return self._log[len(self._log) - (self._seq - since):] if since < self._seq else []

    def stream(self, since: Optional[int], heartbeat: float = HEARTBEAT_SECONDS):
        """Server-sent events from ``since`` on (None: from now) until the hub closes.

        Each connection is one greenlet of the WSGI server, waiting on an event between
        messages, so a stream never blocks anything else. The rich menu is not in the log:
        it comes first when there is one, then whenever the platform's default changes."""
        if since is None:
            since = self._seq
        yield b"retry: 1000\n\n"
        menu = menu_read_at = None
        while not self.closed:
            changed, platform_changed = self._changes.event, self.platform.changed
            if platform_changed is not menu_read_at:  # the platform saw a request since
                menu_read_at = platform_changed
                current = self.rich_menu()
                if current != menu:
                    menu = current
                    yield _sse(None, "richmenu", {"type": "richmenu", "richMenu": menu})
            events = self.events_after(since)
            if events is None:  # the page must reload the state
                since = self._seq
                yield _sse(since, "reset", {"type": "reset", "seq": since})
            elif events:
                for event in events:
                    yield _sse(event["seq"], event["type"], event)
                since = events[-1]["seq"]
            elif not gevent.wait([changed, platform_changed], timeout=heartbeat, count=1):
                yield b": keep-alive\n\n"

    def wait_for(self, predicate, timeout: float = 5.0):
        """Block until ``predicate(self)`` is truthy and return it; AssertionError on timeout."""
        return self._changes.wait_for(
            lambda: predicate(self), timeout,
            lambda: f"timed out after {timeout}s waiting for "
                    f"{getattr(predicate, '__name__', predicate)}")

    def state(self) -> dict:
        return {"bot": self.info, "now": self.now_ms(), "seq": self._seq,
                "richMenu": self.rich_menu(),
                "users": [user.to_dict() for user in self.users.values()]}

    def rich_menu(self) -> Optional[dict]:
        """The default rich menu as the page draws it (``page_shapes.rich_menu``), or None."""
        return page_shapes.rich_menu(self.platform)

    def rich_menu_image(self, menu_id: str):
        """(content type, bytes) of a rich menu's image; None when it has no usable one."""
        entry = self.platform.rich_menus.get(menu_id)
        image = entry.get("image") if isinstance(entry, dict) else None
        content_type = page_shapes.image_type(image)
        return (content_type, bytes(image)) if content_type else None

    def texts_for(self, user_id: str) -> list:
        """(sender, text) of every bubble in one user's chat, for tests; "[sticker]" and the
        like for bubbles without text."""
        return [(m["from"], m.get("text") or f"[{m['type']}]")
                for m in self._user(user_id).messages]

    def close(self) -> None:
        """End every stream and write the history now."""
        self.closed = True
        self._changes.notify()
        if self._save_later is not None:
            self._save_later.kill()
            self._save_later = None
            self._save()

    # -- plumbing ----------------------------------------------------------------------------

    def _user(self, user_id) -> ChatUser:
        user = self.users.get(user_id)
        if user is None:
            raise Refused(404, "no such user")
        return user

    def _sender(self, user_id) -> ChatUser:
        user = self._user(user_id)
        if user.blocked:
            raise Refused(409, "this user has blocked the bot; unblock first")
        return user

    def _next_name(self) -> str:
        names = {user.name for user in self.users.values()}
        number = len(self.users) + 1
        while f"ユーザー{number}" in names:
            number += 1
        return f"ユーザー{number}"

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _bubble(self, user, sender, kind, **fields) -> dict:
        self._next_message += 1
        message = {"id": self._next_message, "user": user.id, "from": sender, "type": kind,
                   "at": self.now_ms(), **fields}
        if sender == "user":
            message["status"] = "sending"
        user.messages.append(message)
        if len(user.messages) > self.max_messages:
            del user.messages[:len(user.messages) - self.max_messages]
        self._publish({"type": "message", "message": dict(message)})
        return message

    def _deliver(self, user, event, bubble=None) -> dict:
        """POST one signed webhook to the bot; mark the bubble read (200) or failed."""
        try:
            status = self.platform.post_events([event])
        except (RuntimeError, urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("webhook to the bot failed: %s", type(exc).__name__)
            status = None
        if bubble is not None:
            bubble["status"] = "read" if status == 200 else "failed"
            self._publish({"type": "update", "message": dict(bubble)})
        if status != 200:
            why = "ボットに接続できません" if status is None else f"ボットが HTTP {status} を返しました"
            self._bubble(user, "note", "text", text=f"{why}(届いていません)")
        return {"status": status, "message": bubble}

    def _publish(self, event: dict) -> None:
        self._seq += 1
        event["seq"] = self._seq
        self._log.append(event)
        if len(self._log) > MAX_LOGGED_EVENTS:
            dropped = len(self._log) - MAX_LOGGED_EVENTS // 2
            del self._log[:dropped]
            self._floor = self._log[0]["seq"] - 1
        self._changes.notify()
        self._schedule_save()

    def _schedule_save(self) -> None:
        if self._history_path and self._save_later is None and not self.closed:
            self._save_later = gevent.spawn_later(SAVE_DELAY_SECONDS, self._save)

    def _save(self) -> None:
        self._save_later = None
        data = {"version": 1, "seq": self._seq, "next_message": self._next_message,
                "users": [user.to_dict() for user in self.users.values()]}
        directory = os.path.dirname(os.path.abspath(self._history_path))
        try:
            os.makedirs(directory, exist_ok=True)
            temporary = f"{self._history_path}.tmp"
            with open(temporary, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
            os.replace(temporary, self._history_path)
        except OSError as exc:
            log.warning("could not save the chat history to %s: %s", self._history_path, exc)

    def _load(self) -> None:
        try:
            with open(self._history_path, encoding="utf-8") as source:
                data = json.load(source)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable chat history %s: %s", self._history_path, exc)
            return
        for entry in data.get("users", ()):
            if not _USER_ID.match(str(entry.get("id", ""))):
                continue
            messages = [m for m in entry.get("messages", ()) if isinstance(m, dict)]
            for message in messages:
                if message.get("status") == "sending":
                    message["status"] = "failed"  # the process ended while it was posted
            user = ChatUser(entry["id"], str(entry.get("name") or entry["id"][:8]),
                            bool(entry.get("blocked")), messages[-self.max_messages:])
            self.users[user.id] = user
            if user.blocked:
                self.platform.faults.blocked_users.add(user.id)
        self._seq = self._floor = int(data.get("seq", 0))
        self._next_message = int(data.get("next_message", 0))


def _picked(params) -> bool:
    """What a datetimepicker's postback carries: one of date, time or datetime, as text."""
    return (isinstance(params, dict) and len(params) == 1
            and next(iter(params)) in ("date", "time", "datetime")
            and all(isinstance(value, str) and len(value) <= 20 for value in params.values()))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _sse(seq: Optional[int], kind: str, payload: dict) -> bytes:
    """One server-sent event; without ``seq`` it leaves the browser's Last-Event-ID alone."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    event_id = "" if seq is None else f"id: {seq}\n"
    return f"{event_id}event: {kind}\ndata: {data}\n\n".encode("utf-8")


# -- the page and its API ------------------------------------------------------------------

def create_app(hub: ChatHub) -> Bottle:
    """The chat page (``/``), its files (``/static/...``) and its JSON API (``/api/...``)."""
    app = Bottle()

    def guard(write=False):
        """Loopback Host only (no DNS rebinding); writes must be JSON (a page on another site
        cannot send that without a CORS preflight, which this app never grants)."""
        host = urllib.parse.urlsplit("//" + (request.get_header("Host") or "")).hostname
        if host not in LOOPBACK_HOSTS:
            raise _json(403, {"error": "the simulator answers on 127.0.0.1 only"})
        if write:
            content_type = (request.content_type or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise _json(415, {"error": "send application/json"})
            try:
                body = json.loads(request.body.read(64 * 1024) or b"{}")
            except ValueError:
                raise _json(400, {"error": "malformed JSON"})
            if not isinstance(body, dict):
                raise _json(400, {"error": "send a JSON object"})
            return body
        return None

    def call(action, *args):
        try:
            return action(*args)
        except Refused as refused:
            raise _json(refused.status, {"error": str(refused)})

    @app.get("/")
    def page():
        guard()
        return _static("chat.html")

    @app.get("/static/<name:path>")
    def static(name):
        guard()
        return _static(name)

    @app.get("/api/state")
    def state():
        guard()
        return _json(200, hub.state())

    @app.get("/api/clock")
    def clock():
        guard()
        return _json(200, {"now": hub.now_ms(), "timezone": hub.info.get("timezone")})

    @app.post("/api/users")
    def add_user():
        body = guard(write=True)
        user = hub.add_user(body.get("name") if isinstance(body.get("name"), str) else None)
        return _json(201, user.to_dict())

    @app.post("/api/users/<user_id>/messages")
    def send(user_id):
        body = guard(write=True)
        kind = body.get("type")
        if kind == "text":
            result = call(hub.send_text, user_id, body.get("text"))
        elif kind == "sticker":
            result = call(hub.send_sticker, user_id, str(body.get("packageId", "")),
                          str(body.get("stickerId", "")))
        elif kind == "postback":
            result = call(hub.send_postback, user_id, body.get("data"), body.get("displayText"),
                          body.get("params"))
        elif kind == "location":
            result = call(hub.send_location, user_id, body.get("title"), body.get("address"),
                          body.get("latitude"), body.get("longitude"))
        else:
            raise _json(400, {"error": "type is text, sticker, postback or location"})
        return _json(200, result)

    @app.get("/api/rich-menus/<menu_id>/image")
    def rich_menu_image(menu_id):
        guard()
        image = hub.rich_menu_image(menu_id)
        if image is None:
            raise _json(404, {"error": "no such rich menu image"})
        content_type, data = image
        return HTTPResponse(status=200, body=data, headers={
            "Content-Type": content_type, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff"})

    @app.post("/api/users/<user_id>/block")
    def block(user_id):
        guard(write=True)
        call(hub.block, user_id)
        return _json(200, hub.users[user_id].summary())

    @app.post("/api/users/<user_id>/unblock")
    def unblock(user_id):
        guard(write=True)
        call(hub.unblock, user_id)
        return _json(200, hub.users[user_id].summary())

    @app.get("/api/events")
    def events():
        guard()
        raw = request.get_header("Last-Event-ID") or request.query.get("since")
        since = int(raw) if raw and raw.isdigit() else None
        response.content_type = "text/event-stream; charset=utf-8"
        response.set_header("Cache-Control", "no-cache")
        response.set_header("X-Accel-Buffering", "no")
        return hub.stream(since)

    return app


def _static(name):
    answer = static_file(name, root=STATIC_ROOT)
    answer.set_header("Cache-Control", "no-cache")
    return answer


def _json(status, payload):
    return HTTPResponse(status=status, body=json.dumps(payload, ensure_ascii=False),
                        headers={"Content-Type": "application/json; charset=utf-8",
                                 "Cache-Control": "no-store"})
