"""Builds the running bot from settings: Redis (embedded when REDIS_URL is unset), the store,
the LINE outbox, the timer and the actor system.

Without LINE credentials the bot runs in simulator mode: it generates a channel secret and
token, starts the local LINE stand-in with its chat page (``simulator.local``) and points
``LINE_API_BASE_URL`` at it. The bot's own code path is the production one: real HTTP to
that LINE, signed webhooks to the real ``/callback``.
"""
import contextlib
import dataclasses
import gc
import logging
import os
import secrets
import sys
import urllib.parse
from dataclasses import dataclass
from typing import Optional

import redis

from actors.system import ActorSystem
from actors.timer import Timer
from outbox.line import LineOutbox
from settings import Settings, check_credentials, generated_secret
from startup import refuse_start
from storage.redis_server import RedisServer
from storage.store import Store, connect
from storage.upgrade import Legacy

log = logging.getLogger(__name__)

SIMULATOR_BANNER = """
  usa-reminder is running in SIMULATOR MODE: no LINE credentials are set, so a local stand-in
  for LINE plays the platform. Nothing leaves this machine.

    chat with the bot:        {chat_url}
    what the actors are doing: {debug_url}

  Re-asks come every {interval:g} s (SNOOZE_INTERVAL_SECONDS). Set CHANNEL_SECRET and
  CHANNEL_ACCESS_TOKEN to talk to the real LINE platform instead.
"""


@dataclass
class Runtime:
    settings: Settings                    # as the bot runs (simulator mode fills in LINE)
    system: ActorSystem
    store: Store
    outbox: LineOutbox
    embedded_redis: Optional[RedisServer] = None
    simulator: Optional[object] = None    # simulator.local.LocalLine in simulator mode

    def serving(self, host: str, port: int) -> None:
        """The bot listens on host:port: in simulator mode, send webhooks there."""
        if self.simulator is None:
            return
        dial = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        if ":" in dial:
            dial = f"[{dial}]"
        bot_url = f"http://{dial}:{port}"
        debug_url = f"{bot_url}/debug?token={self.settings.debug_token}"
        self.simulator.connect_bot(f"{bot_url}/callback", debug_url)
        sys.stdout.write(SIMULATOR_BANNER.format(
            chat_url=self.simulator.chat_url, debug_url=debug_url,
            interval=self.settings.snooze_interval_seconds))
        sys.stdout.flush()

    def stop(self) -> bool:
        """Stop waking users, let in-flight sends finish (within the settings' grace), then
        close everything. True when nothing was cut short."""
        quiet = self.system.stop(timeout=self.settings.shutdown_grace_seconds)
        self.close()
        return quiet

    def close(self):
        self.outbox.close()
        if self.simulator is not None:
            self.simulator.stop()
        self.store.redis.close()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


def build_runtime(settings, *, timer=None) -> Runtime:
    """The bot, ready to start. ``timer`` defaults to the production ``Timer``. When a step
    fails, whatever was started before it (the simulator, an embedded redis-server, the
    Redis connection) is stopped before the error goes on."""
    timer = timer or Timer()
    check_credentials(settings.channel_secret, settings.channel_access_token)
    with contextlib.ExitStack() as on_failure:
        simulator = None
        if not settings.has_line_credentials:
            settings, simulator = _simulator_mode(settings, timer)
            on_failure.callback(simulator.stop)
        embedded = None
        redis_url = settings.redis_url
        if redis_url is None:
            embedded = _embedded_redis(settings.data_dir, simulated=simulator is not None)
            on_failure.callback(embedded.stop)
            redis_url = embedded.url
        client = _connect_checked(redis_url, settings.redis_cluster)
        on_failure.callback(client.close)
        store = Store(client, legacy=Legacy(settings.timezone, settings.max_reasks))
        runtime = _build(settings, timer, store)
        runtime.embedded_redis, runtime.simulator = embedded, simulator
        on_failure.pop_all()  # started for good: Runtime.close stops them
    return runtime


# Python's cycle collector looks at young objects every 700 container allocations by default.
# A webhook makes hundreds, nearly all freed at once by reference counting, so under load it
# ran ~100 times a second and, every tenth time, went through the older generation too: 4-9%
# of the bot's CPU under webhooks (bench/README.md, "the cycle collector").
GC_THRESHOLDS = (50_000, 20, 100)


def settle_collector() -> None:
    """Once a process has built its runtime: what exists now (modules, the runtime) lives as
    long as the process, so the cycle collector need not look at it again (gc.freeze), and
    it looks at young objects every 50,000 allocations. Cycles are still collected."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _simulator_mode(settings, timer):
    """Generated credentials, the local LINE stand-in, and the settings that point at it."""
    from simulator.local import LocalLine  # only here: the bot itself never imports it

    snooze = settings.snooze_interval_seconds
    settings = dataclasses.replace(
        settings, channel_secret=generated_secret(),
        channel_access_token=secrets.token_urlsafe(32),
        debug_token=settings.debug_token or generated_secret())
    info = {"name": "管理上手のうさちゃん", "timezone": settings.timezone,
            "snoozeIntervalSeconds": snooze, "maxReasks": settings.max_reasks}
    simulator = LocalLine(settings.channel_secret, settings.channel_access_token, info=info,
                          history_path=os.path.join(settings.data_dir, "simulator", "chats.json"),
                          clock=timer.now)
    simulator.start(port=settings.port + 1 if 0 < settings.port < 65535 else 0)
    log.info("no LINE credentials: simulator mode, LINE stand-in on %s", simulator.base_url)
    return dataclasses.replace(settings, line_api_base_url=simulator.base_url), simulator


def _embedded_redis(data_dir, simulated):
    """A local redis-server for REDIS_URL unset. Simulator mode keeps its own data dir, so
    that switching to real credentials never pushes to the simulator's made-up users."""
    _set_apart_simulated_users(data_dir)
    redis_dir = os.path.join(data_dir, *(("simulator", "redis") if simulated else ("redis",)))
    server = RedisServer(redis_dir, port=0, persistent=True)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        raise refuse_start(f"the embedded redis-server did not start ({exc})",
                           f"see {os.path.join(redis_dir, 'redis.log')}; move {redis_dir} "
                           "away to start afresh, or set REDIS_URL") from None
    log.info("REDIS_URL unset: embedded Redis on 127.0.0.1:%d, data in %s",
             server.port, redis_dir)
    return server


def _set_apart_simulated_users(data_dir):
    """Before simulator mode had a Redis of its own, its users were stored with the real
    ones in <data>/redis. Where the simulator has kept chats but has no Redis yet, that data
    dir came from it: move it to the simulator's place (once) instead of asking made-up users."""
    shared = os.path.join(data_dir, "redis")
    simulator = os.path.join(data_dir, "simulator")
    if (os.path.isdir(shared) and os.path.exists(os.path.join(simulator, "chats.json"))
            and not os.path.exists(os.path.join(simulator, "redis"))):
        os.replace(shared, os.path.join(simulator, "redis"))
        log.warning("moved %s to %s: those users were made in simulator mode", shared,
                    os.path.join(simulator, "redis"))


def check_redis(url, cluster=False):
    """Refuse to start (one line) when the Redis at `url` does not answer, or is a node of
    a Redis Cluster and `cluster` is not set (or the other way round)."""
    # As the bot connects (rediss: Heroku's TLS).
    _connect_checked(url, cluster, max_connections=1).close()


def _connect_checked(url, cluster, **options):
    """A client of the Redis at `url` (`cluster`: of the cluster it is a node of), once it
    answers as what it is said to be."""
    try:
        client = connect(url, cluster=cluster, **options)
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
        raise _unreachable(exc, url) from None
    try:
        _check_reachable(client, url, cluster)
    except BaseException:
        client.close()
        raise
    return client


def _check_reachable(client, url, cluster=False):
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        raise _unreachable(exc, url) from None
    if not cluster:
        try:
            enabled = client.info("cluster").get("cluster_enabled")
        except redis.exceptions.ResponseError:  # a service that hides INFO is no cluster node
            enabled = False
        if enabled:
            raise refuse_start("the Redis at REDIS_URL is a node of a Redis Cluster",
                               "set REDIS_CLUSTER=1 (its keys are laid out for the cluster's "
                               "slots)")


def _unreachable(exc, url):
    parts = urllib.parse.urlsplit(url)
    where = parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
    reason = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    return refuse_start(f"Redis at {where} cannot be reached ({reason})",
                        "check REDIS_URL (on Heroku: heroku redis:info), or unset it to use "
                        "an embedded Redis")


def _build(settings, timer, store) -> Runtime:
    outbox = LineOutbox(settings.line_api_base_url, settings.channel_access_token,
                        timeout=settings.line_timeout_seconds,
                        rate=settings.push_rate_per_second,
                        concurrency=settings.push_concurrency,
                        share=1.0 / settings.processes)
    system = ActorSystem(settings, store, outbox, timer)
    return Runtime(settings=settings, system=system, store=store, outbox=outbox)
