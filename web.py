"""usa-reminder: the HTTP edge and the entry point (`python web.py`).

The edge is thin: verify the signature, parse, drop redeliveries, tell the user's actor,
answer 200 at once. The actor that knows the answer sends the reply.
"""
import hmac
import json
import logging
import socket

from bottle import Bottle, HTTPResponse, request, response
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser

from chat import texts
from inbound import ForUser, NotOneToOne, translate

log = logging.getLogger("usa_reminder.web")

MAX_BODY_BYTES = 1024 * 1024
READY_WAIT_SECONDS = 1.5


def create_app(*, channel_secret, system, store, outbox, debug_token=None):
    """The WSGI app. Every collaborator is injected; nothing global."""
    app = Bottle()
    parser = WebhookParser(channel_secret)

    @app.post("/callback")
    def callback():
        signature = request.headers.get("X-Line-Signature")
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return _plain(413, "request body too large")
        if not signature:
            return _plain(400, "missing signature")
        raw = request.body.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return _plain(413, "request body too large")
        try:
            body = raw.decode("utf-8")
            events = parser.parse(body, signature)
        except InvalidSignatureError:
            return _plain(400, "bad signature")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            return _plain(400, "malformed webhook body")
        if events and not system.ready.wait(READY_WAIT_SECONDS):
            return _plain(503, "starting up")  # LINE redelivers
        for event in events:
            _dispatch(event)
        return _plain(200, "OK")

    def _dispatch(event):
        event_id = getattr(event, "webhook_event_id", None)
        routed = translate(event)
        if routed is None:
            return
        if event_id and not store.first_delivery(event_id):
            return  # LINE redelivered an event we already handled
        if isinstance(routed, ForUser):
            system.tell(routed.user_id, routed.message)
        elif isinstance(routed, NotOneToOne) and routed.reply_token:
            outbox.reply_soon(routed.reply_token, [texts.ONE_TO_ONE_ONLY])

    @app.get("/healthz")
    @app.get("/healthcheck")
    def healthz():
        if system.ready.is_set():
            return _plain(200, "OK")
        return _plain(503, "restoring users")

    def _authorized():
        if not debug_token:
            return _plain(404, "not found")
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {debug_token}".encode()):
            return _plain(401, "unauthorized")
        return None

    @app.get("/debug/actors")
    def debug_actors():
        refusal = _authorized()
        if refusal is not None:
            return refusal
        response.content_type = "application/json"
        return json.dumps(system.snapshot(), ensure_ascii=False)

    @app.get("/debug")
    def debug_page():
        refusal = _authorized()
        if refusal is not None:
            return refusal
        from debug_page import render  # only loaded when someone looks
        response.content_type = "text/html; charset=utf-8"
        return render(system.snapshot())

    return app


def _plain(status, text):
    return HTTPResponse(status=status, body=text, headers={"Content-Type": "text/plain"})


# -- entry point ----------------------------------------------------------------------------

def make_server(app, host, port):
    from gevent.pywsgi import WSGIServer

    class NoDelayWSGIServer(WSGIServer):
        """The stock server writes headers and body separately; without TCP_NODELAY every
        kept-alive response waits ~44 ms for the delayed ACK."""

        def handle(self, sock, address):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return super().handle(sock, address)

    return NoDelayWSGIServer((host, port), app, log=None, error_log=logging.getLogger("pywsgi"))


def main():
    from gevent import monkey
    monkey.patch_all()

    import signal
    import sys

    import gevent
    from gevent.event import Event

    import settings as settings_module
    from runtime import build_runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_module.from_environment()
    runtime = build_runtime(settings)
    app = create_app(channel_secret=runtime.channel_secret, system=runtime.system,
                     store=runtime.store, outbox=runtime.outbox,
                     debug_token=runtime.debug_token)
    server = make_server(app, settings.host, settings.port)
    server.start()
    log.info("listening on http://%s:%d", settings.host, server.server_port)
    restored = gevent.spawn(runtime.system.restore)

    stopping = Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    gevent.signal_handler(signal.SIGINT, stopping.set)
    stopping.wait()

    log.info("stopping: no new webhooks, finishing in-flight pushes")
    server.stop(timeout=2)
    restored.kill()
    quiet = runtime.system.stop(timeout=settings.shutdown_grace_seconds)
    runtime.close()
    log.info("stopped%s", "" if quiet else " (some work was cut short)")
    sys.exit(0)


if __name__ == "__main__":
    main()
