"""Configuration, read once from the environment in `main()` and passed down."""
import os
import secrets
from dataclasses import dataclass
from typing import Mapping, Optional


SIMULATOR_SNOOZE_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8080
    channel_secret: Optional[str] = None
    channel_access_token: Optional[str] = None
    redis_url: Optional[str] = None  # None: start an embedded local Redis
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

    @property
    def has_line_credentials(self) -> bool:
        return bool(self.channel_secret and self.channel_access_token)


def _number(env, name, default, kind=float):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}")
    if value < 0:
        raise SystemExit(f"{name} must not be negative, got {raw!r}")
    return value


def from_environment(env: Mapping[str, str] = os.environ) -> Settings:
    secret = env.get("CHANNEL_SECRET") or None
    token = env.get("CHANNEL_ACCESS_TOKEN") or env.get("CHANNEL_TOKEN") or None
    # Without LINE credentials the bot runs against the local simulator, where waiting ten
    # minutes for a re-ask would make trying it tedious.
    default_snooze = 600.0 if secret or token else SIMULATOR_SNOOZE_INTERVAL_SECONDS
    return Settings(
        host=env.get("HOST") or "0.0.0.0",
        port=_number(env, "PORT", 8080, int),
        channel_secret=secret,
        channel_access_token=token,
        redis_url=env.get("REDIS_URL") or None,
        line_api_base_url=(env.get("LINE_API_BASE_URL") or "https://api.line.me").rstrip("/"),
        timezone=env.get("BOT_TIMEZONE") or "Asia/Tokyo",
        snooze_interval_seconds=_number(env, "SNOOZE_INTERVAL_SECONDS", default_snooze),
        max_reasks=_number(env, "MAX_REASKS", 10, int),
        missed_ask_grace_seconds=_number(env, "MISSED_ASK_GRACE_SECONDS", 1800.0),
        debug_token=env.get("DEBUG_TOKEN") or None,
        push_rate_per_second=_number(env, "PUSH_RATE_PER_SECOND", 1800.0),
        push_concurrency=_number(env, "PUSH_CONCURRENCY", 128, int),
        line_timeout_seconds=_number(env, "LINE_TIMEOUT_SECONDS", 5.0),
        push_lease_seconds=_number(env, "PUSH_LEASE_SECONDS", 30.0),
        data_dir=env.get("DATA_DIR") or ".data",
    )


def generated_secret() -> str:
    return secrets.token_hex(16)
