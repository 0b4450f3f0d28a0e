"""usa-reminder: the HTTP edge and the entry point (`python web.py`).

The edge is thin: verify the signature, parse, promise the replies (or refuse with 503 when
they could not go out in time: outbox/backlog.py), drop redeliveries, tell the user's actor,
answer 200 at once. The actor that knows the answer sends the reply.
"""
if __name__ == "__main__":
    # The entry point patches the standard library before anything else imports it.
    from gevent import monkey
    monkey.patch_all()

import errno
import hmac
import json
import logging
import socket

import gevent
from bottle import Bottle, HTTPResponse, request, response

from chat import texts
from inbound import ForUser, MalformedWebhook, parse_webhook, signature_ok, translate
import logsafe
from logsafe import fields
from outbox.clock import real_seconds
from startup import refuse_start
from storage.outage import StorageUnavailable

log = logging.getLogger("usa_reminder.web")

MAX_BODY_BYTES = 1024 * 1024
READY_WAIT_SECONDS = 1.5
# How long a webhook waits for room among the replies owed before it is refused: LINE counts
# a webhook not answered within a second as failed (request_timeout).
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


def app_for(runtime):
    """The WSGI app of a built runtime (runtime.py)."""
    return create_app(channel_secret=runtime.settings.channel_secret, system=runtime.system,
                      store=runtime.store, outbox=runtime.outbox,
                      debug_token=runtime.settings.debug_token)


def create_app(*, channel_secret, system, store, outbox, debug_token=None):
    """The WSGI app. Every collaborator is injected; nothing global."""
    app = Bottle()
    busy = _Refusals(outbox.backlog)

    @app.post("/callback")
    def callback():
        environ = request.environ
        length = _declared_length(environ)
        if length is _INVALID:
            return _plain(400, "bad Content-Length")
        if length is not None and length > MAX_BODY_BYTES:
            return _plain(413, "request body too large")  # refused before reading a byte
        signature = environ.get("HTTP_X_LINE_SIGNATURE")
        if not signature:
            return _plain(400, "missing signature")
        raw = _read_body(environ, length, MAX_BODY_BYTES)
        if raw is None:
            return _plain(413, "request body too large")
        if not signature_ok(channel_secret, raw, signature):
            log.warning("webhook with a bad signature (%d bytes)", len(raw))
            return _plain(400, "bad signature")
        try:
            webhook = parse_webhook(raw)
        except MalformedWebhook as exc:
            log.warning("signed webhook rejected: %s", exc)
            return _plain(400, "malformed webhook body")
        for unreadable in webhook.unreadable:
            _log_unreadable(unreadable)
        events = webhook.events
        if events and not system.ready.wait(READY_WAIT_SECONDS):
            _log_refused(events, "starting")
            return _plain(503, "starting up")  # LINE redelivers
        routes = [translate(event) for event in events]
        owed = [route.reply_token for route in routes if route is not None and route.reply_token]
        if owed and not outbox.backlog.promise(owed, wait=ROOM_WAIT_SECONDS):
            return busy.refuse()  # nothing written or told: the redelivery is the first
        handed = 0  # events handed on; the replies of the others are owed no more
        try:
            for event, route in zip(events, routes):
                started = real_seconds()
                outcome = _dispatch(event, route)
                handed += 1
                _log_event(event, outcome, latency_ms=(real_seconds() - started) * 1000)
        except StorageUnavailable:
            # Events told before this one are deduplicated when LINE redelivers the body.
            log.warning("webhook refused with 503: Redis unavailable")
            _log_refused(events[handed:], "redis")
            return _plain(503, "storage unavailable")
        finally:
            for route in routes[handed:]:
                if route is not None:
                    outbox.backlog.settle(route.reply_token)
        return _plain(200, "OK")

    def _dispatch(event, routed):
        """Hand one event on; returns what was done with it (the `outcome` logged). Whoever
        it is handed to settles its reply's promise; a duplicate's is settled here."""
        event_id = getattr(event, "webhook_event_id", None)
        if routed is None:
            return "ignored"
        if isinstance(routed, ForUser):
            # Kept in Redis until handled: a redelivery of one handled before is a duplicate.
            outcome = system.take_in(event_id, routed.user_id, routed.message)
            if outcome in ("duplicate", "in_hand"):
                outbox.backlog.settle(routed.reply_token)  # nobody here answers it
            return outcome
        if event_id and not store.events.first_delivery(event_id):
            outbox.backlog.settle(routed.reply_token)
            return "duplicate"
        if routed.reply_token:
            outbox.reply_soon(routed.reply_token, [texts.ONE_TO_ONE_ONLY])
        return "not_one_to_one"

    @app.get("/healthz")
    @app.get("/healthcheck")
    def healthz():
        if system.ready.is_set():
            return _plain(200, "OK")
        return _plain(503, "starting up")

    def _authorized(allow_query_token=False):
        """The bearer token; the HTML page also takes `?token=` (a browser cannot send a
        header when it opens a link). Both compared in constant time."""
        if not debug_token:
            return _plain(404, "not found")
        # Raw environ value: Bottle's headers decode as UTF-8 and fail on other bytes.
        given = request.environ.get("HTTP_AUTHORIZATION", "")
        if hmac.compare_digest(given.encode(), f"Bearer {debug_token}".encode()):
            return None
        if allow_query_token and hmac.compare_digest(
                request.query.get("token", "").encode(), debug_token.encode()):
            return None
        return _plain(401, "unauthorized")

    @app.get("/debug/actors")
    def debug_actors():
        refusal = _authorized()
        if refusal is not None:
            return refusal
        response.content_type = "application/json"
        return json.dumps(_with_names_and_quota(system.snapshot(), outbox, system), ensure_ascii=False)

    @app.get("/debug")
    def debug_page():
        refusal = _authorized(allow_query_token=True)
        if refusal is not None:
            return refusal
        from debug_page import render  # only loaded when someone looks
        response.content_type = "text/html; charset=utf-8"
        response.set_header("Cache-Control", "no-store")
        response.set_header("Referrer-Policy", "no-referrer")  # the URL may carry the token
        return render(_with_names_and_quota(system.snapshot(), outbox, system), now=system.timer.now(),
                      zone=system.settings.timezone)

    return app


def _with_names_and_quota(snapshot, outbox, system):
    """The snapshot plus what LINE says about the account, from caches only (a debug page
    never waits for LINE): each user's display name ("name", None until known; the missing
    ones are looked up in the background for the next refresh) and the month's "quota";
    and from Redis, each user's pushes this month and watchers, and the month's alerts."""
    month = system.this_month(user["user"] for user in snapshot.get("users", ()))
    users = [{**user, "name": outbox.names.cached(user["user"]),
              "pushes_this_month": month["pushes"].get(user["user"], 0),
              "watchers": month["watchers"].get(user["user"], 0)}
             for user in snapshot.get("users", ())]
    outbox.names.fetch_soon(user["user"] for user in users if user["name"] is None)
    usage = outbox.quota.current()
    return {**snapshot, "users": users, "quota": None if usage is None else usage.as_dict(),
            "watch_alerts_this_month": month["watch_alerts"]}


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
        return _plain(503, "too many replies owed")

    def _log(self):
        log.warning("%s", fields(outcome="refused", status=503, reason="busy",
                                 webhooks=self._count, seconds=self.SECONDS,
                                 replies_owed=self._backlog.owed, limit=self._backlog.limit))
        self._count = 0


def _plain(status, text):
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


# -- entry point ----------------------------------------------------------------------------

LISTEN_BACKLOG = 256  # as gevent's own servers


def listen(host, port):
    """The listening socket, bound before anything slow starts. A busy port then stops the
    start before Redis or the simulator exist, so there is nothing to clean up; and Heroku
    sees $PORT bound at once, however long the start takes (webhooks wait in the
    backlog until the server starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise refuse_start(f"port {port} on {host} is already in use",
                               "stop the program listening there (another usa-reminder?) "
                               "or set PORT to a free port") from None
        raise refuse_start(f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                           "set HOST and PORT to an address this machine can listen on") from None


def make_server(app, host, port, listener=None):
    """The WSGI server on host:port, or on `listener` (a socket from `listen`) when given."""
    from gevent.pywsgi import WSGIServer

    class NoDelayWSGIServer(WSGIServer):
        """The stock server writes headers and body separately; without TCP_NODELAY every
        kept-alive response waits ~44 ms for the delayed ACK."""

        def handle(self, sock, address):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return super().handle(sock, address)

    return NoDelayWSGIServer(listener or (host, port), app, log=None,
                             error_log=logging.getLogger("pywsgi"))


def main():
    """Settings, then the port, then everything slow. A start that cannot go on says why in one
    line on stderr and exits 2 with nothing left running (see startup.py)."""
    import signal
    import sys

    import gevent
    from gevent.event import Event

    import settings as settings_module

    settings = settings_module.from_environment()
    logsafe.configure(settings.log_level)
    listener = listen(settings.host, settings.port)
    try:
        # Redis, the outbox and the actors: after the checks.
        from runtime import build_runtime, settle_collector
        runtime = build_runtime(settings)  # stops whatever it started if it cannot finish
    except BaseException:
        listener.close()
        raise
    settle_collector()
    settings = runtime.settings  # as the bot runs: simulator mode fills in LINE
    server = make_server(app_for(runtime), settings.host, settings.port, listener=listener)
    server.start()
    log.info("listening on http://%s:%d", settings.host, server.server_port)
    runtime.serving(settings.host, server.server_port)

    stopping = Event()
    started = gevent.spawn(runtime.system.start)
    started.link_exception(lambda _: stopping.set())  # not Redis (it waits): exit, get restarted
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    gevent.signal_handler(signal.SIGINT, stopping.set)
    stopping.wait()
    if started.exception is not None:
        log.error("could not start: %s", type(started.exception).__name__)
        runtime.close()
        sys.exit(1)

    log.info("stopping: no new webhooks, finishing in-flight pushes")
    server.stop(timeout=2)
    started.kill()
    quiet = runtime.stop()
    log.info("stopped%s", "" if quiet else " (some work was cut short)")
    sys.exit(0)


if __name__ == "__main__":
    main()
