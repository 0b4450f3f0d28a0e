"""Configuration, read from the environment when a process starts and passed down. A value
the bot cannot run with stops the start here, before anything is started (startup.py)."""
import math
import os
import secrets
from dataclasses import dataclass
from typing import Mapping, Optional

from redis.connection import parse_url

from startup import refuse_start


SIMULATOR_SNOOZE_INTERVAL_SECONDS = 60.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8080
    channel_secret: Optional[str] = None
    channel_access_token: Optional[str] = None
    redis_url: Optional[str] = None  # None: start an embedded local Redis
    # REDIS_URL is a node of a Redis Cluster: keys carry their shard's hash tag, the due
    # index is split into shards (storage/keys.py).
    redis_cluster: bool = False
    line_api_base_url: str = "https://api.line.me"
    timezone: str = "Asia/Tokyo"
    snooze_interval_seconds: float = 600.0
    max_reasks: int = 10
    missed_ask_grace_seconds: float = 1800.0
    debug_token: Optional[str] = None
    push_rate_per_second: float = 1800.0  # LINE allows 2,000 requests/s per channel
    push_concurrency: int = 128
    line_timeout_seconds: float = 5.0
    shutdown_grace_seconds: float = 20.0
    push_lease_seconds: float = 30.0  # how long a claimed push may be in flight before another sender retries it
    data_dir: str = ".data"
    log_level: str = "INFO"
    # How often each process also looks at the due index for what other processes scheduled
    # (None: only when a due time it knows of comes; tests on a manual clock).
    scheduler_poll_seconds: Optional[float] = 1.0
    # How long a process that took due users holds them: the longest a process killed while
    # handling them delays them.
    due_lease_seconds: float = 5.0
    # Processes sending for this channel (gunicorn's workers): each paces to its share of
    # LINE's per-channel rates. `python web.py` is one, whatever WEB_CONCURRENCY says.
    processes: int = 1

    @property
    def has_line_credentials(self) -> bool:
        return bool(self.channel_secret and self.channel_access_token)


def _number(env, name, default, kind=float, positive=False):
    """The variable as a finite number, at least 0 (more than 0 if `positive`), or `default`
    when unset."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise refuse_start(f"{name} must be a number, got {raw!r}",
                           f"set {name} to a number or unset it") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        wanted = "more than 0" if positive else "0 or more"
        raise refuse_start(f"{name} must be {wanted}, got {raw!r}",
                           f"set {name} to {wanted} or unset it")
    return value


def _positive(env, name, default, kind=float):
    """A pace, a size or a duration: 0 would mean never, nothing, or without a pause."""
    return _number(env, name, default, kind, positive=True)


def check_credentials(secret: Optional[str], token: Optional[str]) -> None:
    """Both LINE credentials, or neither (simulator mode): one alone is a mistake."""
    if bool(secret) == bool(token):
        return
    given, missing = (("CHANNEL_SECRET", "CHANNEL_ACCESS_TOKEN") if secret
                      else ("CHANNEL_ACCESS_TOKEN", "CHANNEL_SECRET"))
    raise refuse_start(f"{given} is set but {missing} is not",
                       f"set {missing} too (LINE Developers console, your Messaging API "
                       "channel), or unset both to chat with the bot in simulator mode")


def _redis_url(env) -> Optional[str]:
    url = env.get("REDIS_URL") or None
    if url is None:
        if env.get("DYNO"):
            # On Heroku an embedded Redis would live on the dyno's disk, which every daily
            # restart wipes: every user would be forgotten once a day.
            raise refuse_start("REDIS_URL is not set on this Heroku dyno",
                               "add Heroku Redis (heroku addons:create heroku-redis:mini)")
        return None
    try:
        parse_url(url)  # what the Redis client will make of it
    except ValueError:
        # Never echo the URL: it carries the password.
        raise refuse_start("REDIS_URL is not a Redis URL",
                           "set it to redis://[:password@]host:port[/db] or rediss://..., "
                           "or unset it to use an embedded Redis") from None
    return url


def _redis_cluster(env, url) -> bool:
    raw = (env.get("REDIS_CLUSTER") or "0").strip().lower()
    if raw not in ("0", "1", "yes", "no", "true", "false"):
        raise refuse_start(f"REDIS_CLUSTER must be 1 or 0, got {env.get('REDIS_CLUSTER')!r}",
                           "set REDIS_CLUSTER=1 when REDIS_URL is a node of a Redis Cluster, "
                           "or unset it")
    cluster = raw in ("1", "yes", "true")
    if cluster and url is None:
        raise refuse_start("REDIS_CLUSTER is set but REDIS_URL is not",
                           "set REDIS_URL to a node of the cluster, or unset REDIS_CLUSTER to "
                           "use an embedded Redis")
    return cluster


def _log_level(env) -> str:
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise refuse_start(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got "
                           f"{env.get('LOG_LEVEL')!r}", "set LOG_LEVEL to one of them or unset it")
    return level


def from_environment(env: Mapping[str, str] = os.environ) -> Settings:
    secret = env.get("CHANNEL_SECRET") or None
    token = env.get("CHANNEL_ACCESS_TOKEN") or env.get("CHANNEL_TOKEN") or None
    check_credentials(secret, token)
    # Without LINE credentials the bot runs against the local simulator, where waiting ten
    # minutes for a re-ask would make trying it tedious.
    default_snooze = 600.0 if secret or token else SIMULATOR_SNOOZE_INTERVAL_SECONDS
    redis_url = _redis_url(env)
    return Settings(
        host=env.get("HOST") or "0.0.0.0",
        port=_number(env, "PORT", 8080, int),
        channel_secret=secret,
        channel_access_token=token,
        redis_url=redis_url,
        redis_cluster=_redis_cluster(env, redis_url),
        line_api_base_url=(env.get("LINE_API_BASE_URL") or "https://api.line.me").rstrip("/"),
        timezone=env.get("BOT_TIMEZONE") or "Asia/Tokyo",
        snooze_interval_seconds=_positive(env, "SNOOZE_INTERVAL_SECONDS", default_snooze),
        max_reasks=_number(env, "MAX_REASKS", 10, int),
        missed_ask_grace_seconds=_number(env, "MISSED_ASK_GRACE_SECONDS", 1800.0),
        debug_token=env.get("DEBUG_TOKEN") or None,
        push_rate_per_second=_positive(env, "PUSH_RATE_PER_SECOND", 1800.0),
        push_concurrency=_positive(env, "PUSH_CONCURRENCY", 128, int),
        line_timeout_seconds=_positive(env, "LINE_TIMEOUT_SECONDS", 5.0),
        push_lease_seconds=_positive(env, "PUSH_LEASE_SECONDS", 30.0),
        due_lease_seconds=_positive(env, "DUE_LEASE_SECONDS", 5.0),
        scheduler_poll_seconds=_positive(env, "SCHEDULER_POLL_SECONDS", 1.0),
        data_dir=env.get("DATA_DIR") or ".data",
        log_level=_log_level(env),
    )


def generated_secret() -> str:
    return secrets.token_hex(16)
