"""Wall-clock arithmetic for daily reminders: "the next 07:30 in Tokyo", never "+24 h"."""
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def next_occurrence(hour: int, minute: int, tz: ZoneInfo, after: float) -> float:
    """Epoch seconds of the first hour:minute (local wall clock in `tz`) strictly after `after`.

    A wall time that does not exist on a DST day (skipped hour) resolves forward as zoneinfo
    does; one that exists twice uses its first occurrence.
    """
    local_now = datetime.fromtimestamp(after, tz)
    day = local_now.date()
    for _ in range(3):
        candidate = datetime.combine(day, time(hour, minute), tzinfo=tz)
        # Normalise through UTC so nonexistent local times get a real instant.
        instant = candidate.astimezone(timezone.utc).timestamp()
        if instant > after:
            return instant
        day += timedelta(days=1)
    raise AssertionError("unreachable: a wall time recurs within three days")


def start_of_next_day(tz: ZoneInfo, at: float) -> float:
    tomorrow = datetime.fromtimestamp(at, tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=tz).astimezone(timezone.utc).timestamp()


def local_day(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).date().isoformat()


def wall_time_on(day: str, hour: int, minute: int, tz: ZoneInfo) -> float:
    """Epoch seconds of hour:minute on the local date `day` ("YYYY-MM-DD") in `tz`."""
    local = datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=tz)
    return local.astimezone(timezone.utc).timestamp()
