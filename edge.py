"""The webhook edge, POST /callback: read and check the body, parse it, promise the replies
its events will need (or refuse with 503 when they could not go out in time:
outbox/backlog.py), take each event in for its user's actor (kept in Redis until handled:
actors/inbox.py), answer 200. The actor that knows the answer sends the reply."""
import logging

import gevent
from bottle import HTTPResponse, request

from chat import texts
from inbound import ForUser, MalformedWebhook, parse_webhook, signature_ok, translate
from logsafe import fields
from outbox.clock import real_seconds
from storage.outage import StorageUnavailable

log = logging.getLogger("usa_reminder.web")

MAX_BODY_BYTES = 1024 * 1024
READY_WAIT_SECONDS = 1.5
# How long a webhook waits for room among the replies owed before it is refused: well inside
# the time LINE gives a webhook to be answered, after which it counts it as failed.
ROOM_WAIT_SECONDS = 0.5
_READ_CHUNK = 64 * 1024
_INVALID = object()


def _declared_length(environ):
    """Content-Length as an int, None when absent, _INVALID when not a number >= 0."""
    raw = environ.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        length = int(raw)
    except ValueError:
        return _INVALID
    return length if length >= 0 else _INVALID


def _read_body(environ, length, limit):
    """The request body, or None when it is longer than `limit`. Reads at most limit + 1
    bytes, also from a chunked body without Content-Length (when the server terminates the
    input, as gevent's does; otherwise WSGI gives no way to find the end: treat as empty)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length is None:
        if not environ.get("wsgi.input_terminated"):
            return b""
        want = limit + 1
    else:
        want = min(length, limit + 1)
    parts, got = [], 0
    while got < want:
        part = stream.read(min(_READ_CHUNK, want - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return None if got > limit else b"".join(parts)


class Callback:
    """POST /callback, for one channel: `Callback(...)()` answers the request at hand."""

    def __init__(self, channel_secret, system, store, outbox):
        self._secret = channel_secret
        self._system, self._store, self._outbox = system, store, outbox
        self._busy = _Refusals(outbox.backlog)

    def __call__(self) -> HTTPResponse:
        raw = _signed_body(request.environ, self._secret)
        if isinstance(raw, HTTPResponse):
            return raw
        try:
            webhook = parse_webhook(raw)
        except MalformedWebhook as exc:
            log.warning("signed webhook rejected: %s", exc)
            return plain(400, "malformed webhook body")
        for unreadable in webhook.unreadable:
            _log_unreadable(unreadable)
        events = webhook.events
        if events and not self._system.ready.wait(READY_WAIT_SECONDS):
            _log_refused(events, "starting")
            return plain(503, "starting up")  # LINE redelivers
        routes = [translate(event) for event in events]
        owed = [route.reply_token for route in routes if route is not None and route.reply_token]
        if owed and not self._outbox.backlog.promise(owed, wait=ROOM_WAIT_SECONDS):
            return self._busy.refuse()  # nothing written or told: the redelivery is the first
        return self._hand_on(events, routes)

    def _hand_on(self, events, routes) -> HTTPResponse:
        handed = 0  # events handed on; the replies of the others are owed no more
        try:
            for event, route in zip(events, routes):
                started = real_seconds()
                outcome = self._dispatch(event, route)
                handed += 1
                _log_event(event, outcome, latency_ms=(real_seconds() - started) * 1000)
        except StorageUnavailable:
            # Events taken in before this one are in hand when LINE redelivers the body.
            log.warning("webhook refused with 503: Redis unavailable")
            _log_refused(events[handed:], "redis")
            return plain(503, "storage unavailable")
        finally:
            for route in routes[handed:]:
                if route is not None:
                    self._outbox.backlog.settle(route.reply_token)
        return plain(200, "OK")

    def _dispatch(self, event, routed) -> str:
        """Hand one event on; returns what was done with it (the `outcome` logged). Whoever
        it is handed to settles its reply's promise; a duplicate's is settled here."""
        event_id = getattr(event, "webhook_event_id", None)
        if routed is None:
            return "ignored"
        backlog = self._outbox.backlog
        if isinstance(routed, ForUser):
            # Kept in Redis until handled: a redelivery of one handled before is a duplicate.
            outcome = self._system.take_in(event_id, routed.user_id, routed.message)
            if outcome in ("duplicate", "in_hand"):
                backlog.settle(routed.reply_token)  # nobody here answers it
            return outcome
        if event_id and not self._store.events.first_delivery(event_id):
            backlog.settle(routed.reply_token)
            return "duplicate"
        if routed.reply_token:
            self._outbox.reply_soon(routed.reply_token, [texts.ONE_TO_ONE_ONLY])
        return "not_one_to_one"


def _signed_body(environ, secret):
    """The body, or the answer to a request that is not a signed webhook body."""
    length = _declared_length(environ)
    if length is _INVALID:
        return plain(400, "bad Content-Length")
    if length is not None and length > MAX_BODY_BYTES:
        return plain(413, "request body too large")  # refused before reading a byte
    signature = environ.get("HTTP_X_LINE_SIGNATURE")
    if not signature:
        return plain(400, "missing signature")
    raw = _read_body(environ, length, MAX_BODY_BYTES)
    if raw is None:
        return plain(413, "request body too large")
    if not signature_ok(secret, raw, signature):
        log.warning("webhook with a bad signature (%d bytes)", len(raw))
        return plain(400, "bad signature")
    return raw


class _Refusals:
    """Webhooks refused (503) because the replies owed could not go out in time. Said in one
    WARNING line for each second in which some were refused: under overload, a line per event
    would add to the load it reports."""

    SECONDS = 1.0

    def __init__(self, backlog):
        self._backlog = backlog
        self._count = 0

    def refuse(self):
        if not self._count:
            gevent.spawn_later(self.SECONDS, self._log)
        self._count += 1
        return plain(503, "too many replies owed")

    def _log(self):
        log.warning("%s", fields(outcome="refused", status=503, reason="busy",
                                 webhooks=self._count, seconds=self.SECONDS,
                                 replies_owed=self._backlog.owed, limit=self._backlog.limit))
        self._count = 0


def plain(status, text):
    return HTTPResponse(status=status, body=text, headers={"Content-Type": "text/plain"})


def _log_event(event, outcome, **extra):
    """One line per webhook event: its kind and what the edge did with it; the sender only as
    a short id, never the text or the reply token."""
    if not log.isEnabledFor(logging.INFO):
        return
    source = getattr(event, "source", None)
    source_type = getattr(source, "type", None)
    context = getattr(event, "delivery_context", None)
    log.info("%s", fields(
        event=getattr(event, "type", None) or type(event).__name__,
        kind=getattr(getattr(event, "message", None), "type", None),
        user=getattr(source, "user_id", None),
        source=None if source_type == "user" else source_type,
        redelivered=True if getattr(context, "is_redelivery", False) else None,
        outcome=outcome, **extra))


def _log_unreadable(event):
    """An event skipped from a body that was otherwise handled: its kind and why, never its
    content (inbound.Unreadable)."""
    log.warning("%s", fields(event=event.type, kind=event.kind, user=event.user_id,
                             outcome="unreadable", reason=event.why))


def _log_refused(events, reason):
    for event in events:
        _log_event(event, "refused", status=503, reason=reason)
