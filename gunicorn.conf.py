"""gunicorn for usa-reminder (the Procfile): `gunicorn -c gunicorn.conf.py`.

WEB_CONCURRENCY gevent workers (Heroku sets it from the dyno's memory), the app loaded once in
the master so a worker that dies is replaced in milliseconds, and a graceful stop inside
Heroku's 30 s (see wsgi.py for what each worker runs)."""
from gevent import monkey

monkey.patch_all()  # before gunicorn or the app import anything that uses sockets

import os  # noqa: E402
import sys  # noqa: E402

wsgi_app = "wsgi:app"
worker_class = "gevent_pywsgi"  # gevent's own HTTP parsing, as `python web.py` serves
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '8080'}"
preload_app = True
# On SIGTERM a worker stops accepting, serves what comes on open connections for up to
# graceful_timeout (LINE keeps them open), then finishes in-flight sends for up to
# shutdown_grace_seconds (20): well inside the 30 s before Heroku's SIGKILL.
graceful_timeout = 5
keepalive = 75          # LINE's webhook client reuses connections
accesslog = None        # one key=value line per event comes from the app itself
control_socket_disable = True


def on_starting(server):
    """Refuse in the master what no worker could start with (one line, exit 2)."""
    import wsgi
    wsgi.check_start()


def post_worker_init(worker):
    import wsgi
    from startup import StartRefused
    try:
        wsgi.start_worker(workers)
    except StartRefused:
        sys.exit(worker.arbiter.WORKER_BOOT_ERROR if hasattr(worker, "arbiter") else 3)


def worker_exit(server, worker):
    import wsgi
    wsgi.stop_worker()
