"""usa-reminder: the HTTP app and the entry point (`python web.py`).

The app is thin: the webhook (edge.py), /healthz, and /debug behind a token. The entry point
binds the port first, then builds the bot (runtime.py) and serves until SIGTERM.
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

from bottle import Bottle, request, response

import logsafe
from edge import Callback, plain
from startup import refuse_start

log = logging.getLogger("usa_reminder.web")

def app_for(runtime):
    """The WSGI app of a built runtime (runtime.py)."""
    return create_app(channel_secret=runtime.settings.channel_secret, system=runtime.system,
                      store=runtime.store, outbox=runtime.outbox,
                      debug_token=runtime.settings.debug_token)


def create_app(*, channel_secret, system, store, outbox, debug_token=None):
    """The WSGI app. Every collaborator is injected; nothing global."""
    app = Bottle()
    app.post("/callback")(Callback(channel_secret, system, store, outbox))

    @app.get("/healthz")
    @app.get("/healthcheck")
    def healthz():
        if system.ready.is_set():
            return plain(200, "OK")
        return plain(503, "starting up")

    def _authorized(allow_query_token=False):
        """The bearer token; the HTML page also takes `?token=` (a browser cannot send a
        header when it opens a link). Both compared in constant time."""
        if not debug_token:
            return plain(404, "not found")
        # Raw environ value: Bottle's headers decode as UTF-8 and fail on other bytes.
        given = request.environ.get("HTTP_AUTHORIZATION", "")
        if hmac.compare_digest(given.encode(), f"Bearer {debug_token}".encode()):
            return None
        if allow_query_token and hmac.compare_digest(
                request.query.get("token", "").encode(), debug_token.encode()):
            return None
        return plain(401, "unauthorized")

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
