"""gunicorn for usa-reminder (the Procfile): `gunicorn -c gunicorn.conf.py`.

WEB_CONCURRENCY gevent workers (Heroku sets it from the dyno's memory), the app loaded once in
the master so a worker that dies is replaced in milliseconds, and a graceful stop inside
Heroku's 30 s (see wsgi.py for what each worker runs)."""
from gevent import monkey

monkey.patch_all()  # before gunicorn or the app import anything that uses sockets

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

wsgi_app = "wsgi:app"
worker_class = "gevent_pywsgi"  # gevent's own HTTP parsing, as `python web.py` serves
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '8080'}"
preload_app = True
# On SIGTERM a worker stops accepting and stops taking due users; it finishes its in-flight
# sends and serves what comes on open connections (LINE keeps them open) until the master
# kills it graceful_timeout later, well inside the 30 s before Heroku's SIGKILL. What a
# killed worker left unsent is resent by another with the same retry key.
graceful_timeout = 10
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
        # gunicorn's own count (-w and GUNICORN_CMD_ARGS override this file's `workers`):
        # each worker paces to its share of LINE's per-channel rates.
        wsgi.start_worker(worker.cfg.workers, lambda: worker.alive,
                          grace=worker.cfg.graceful_timeout)
    except StartRefused:
        # The settings and Redis were checked in the master (on_starting): what refuses a
        # worker now is Redis out of reach for a moment (a restart, a failover). A boot
        # error would halt the whole service; this worker goes and the master starts
        # another, a second later each time, until Redis answers.
        time.sleep(1)
        sys.exit(1)


def worker_exit(server, worker):
    import wsgi
    wsgi.stop_worker()
