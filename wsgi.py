"""The bot for several processes on one dyno: `gunicorn -c gunicorn.conf.py` (the Procfile).

gunicorn's master loads this module once (preload) and forks WEB_CONCURRENCY workers; each
worker then builds its own runtime after the fork (Redis connections, the LINE client, its
actors and scheduler: `start_worker`, from the config's post_worker_init hook) and serves
every webhook that reaches it. They share nothing but Redis: any worker takes any webhook
and any due user (actors/scheduler.py), and each paces its sends to its share of LINE's
per-channel rates. `python web.py` is the same bot in one process."""
import dataclasses
import logging

import gevent

import logsafe
import settings as settings_module
from runtime import build_runtime, check_redis, settle_collector
from startup import refuse_start
from web import app_for

log = logging.getLogger("usa_reminder.wsgi")


class WorkerApp:
    """The WSGI app gunicorn serves: the bot's, once this worker has built it."""

    def __init__(self):
        self.bot = None

    def __call__(self, environ, start_response):
        if self.bot is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting up"]
        return self.bot(environ, start_response)


app = WorkerApp()
_running = {}
STOP_CHECK_SECONDS = 0.2


def check_start():
    """In gunicorn's master, before any worker: what no worker could start with."""
    settings = settings_module.from_environment()  # refuses bad settings itself
    if not settings.has_line_credentials or settings.redis_url is None:
        raise refuse_start("several processes need LINE credentials and REDIS_URL",
                           "set CHANNEL_SECRET, CHANNEL_ACCESS_TOKEN and REDIS_URL, or run "
                           "one process with `python web.py` (which can also simulate LINE)")
    check_redis(settings.redis_url, settings.redis_cluster)


def start_worker(workers: int, serving, grace: float) -> None:
    """Build this worker's runtime and serve the bot (StartRefused when it cannot).
    `serving()` turns false when gunicorn tells the worker to stop (SIGTERM); in-flight sends
    then get a little less than gunicorn's `grace` (its graceful_timeout) to finish."""
    settings = settings_module.from_environment()
    logsafe.configure(settings.log_level, process_id=True)
    settings = dataclasses.replace(
        settings, processes=workers,
        shutdown_grace_seconds=min(settings.shutdown_grace_seconds, max(grace - 1.0, 0.0)))
    runtime = build_runtime(settings)
    settle_collector()
    app.bot = app_for(runtime)
    _running["runtime"] = runtime
    _running["start"] = gevent.spawn(runtime.system.start)
    _running["serving"] = serving
    _running["watch"] = gevent.spawn(_drain_when_told, runtime, serving)


def _drain_when_told(runtime, serving) -> bool:
    """gunicorn's SIGTERM only marks the worker as stopping: it then serves its open
    connections (LINE keeps them open) for up to graceful_timeout, and its master kills it
    then. So the work stops here, at once: no more due users, in-flight sends finish.
    Webhooks still coming on open connections are handled as before."""
    while serving():
        gevent.sleep(STOP_CHECK_SECONDS)
    return runtime.system.stop(timeout=runtime.settings.shutdown_grace_seconds)


def stop_worker() -> None:
    """The worker is exiting: stop what is left and close its connections."""
    runtime = _running.pop("runtime", None)
    if runtime is None:
        return
    _running.pop("start").kill()
    draining = _running.pop("watch")
    if _running.pop("serving")():  # the worker ends for another reason (a crash): stop here
        draining.kill()
        quiet = runtime.stop()
    else:  # told to stop: the drain stops the actors, within the grace
        draining.join()
        quiet = draining.value
        runtime.close()
    log.info("worker stopped%s", "" if quiet else " (some work was cut short)")
