"""Wall-clock arithmetic for daily reminders: "07:30 in Tokyo on that day", never "+24 h".
Which day comes next for a dose is domain/days.py."""
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Optional
from zoneinfo import ZoneInfo, available_timezones


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def instant_of(day: date, hour: int, minute: int, tz: ZoneInfo) -> float:
    """Epoch seconds of hour:minute on the local date `day` in `tz`. A wall time that does
    not exist that day (the spring gap) is the first instant after the gap; one that happens
    twice (autumn) is its first occurrence."""
    wall = datetime.combine(day, time(hour, minute))
    first = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first.timestamp()   # it exists (fold=0 is its first occurrence when repeated)
    # In a gap: fold=1 reads it with the offset after the change, an instant before the gap;
    # fold=0 with the offset before, an instant after it. The clock jumps in between.
    low = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return float(high)


def start_of_next_day(tz: ZoneInfo, at: float) -> float:
    tomorrow = datetime.fromtimestamp(at, tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 0), tzinfo=tz).astimezone(timezone.utc).timestamp()


def local_day(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).date().isoformat()


def month_of(at: float, tz: ZoneInfo) -> str:
    """"YYYY-MM", the local month of `at`."""
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m")


def wall_time_on(day: str, hour: int, minute: int, tz: ZoneInfo) -> float:
    """Epoch seconds of hour:minute on the local date `day` ("YYYY-MM-DD") in `tz`."""
    return instant_of(date.fromisoformat(day), hour, minute, tz)


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict:
    return {name.lower(): name for name in available_timezones()}


def zone_name(text: str) -> Optional[str]:
    """The IANA zone `text` names (Europe/London, asia/tokyo, UTC), or None."""
    return _zones_by_lower_name().get(text.strip().lower())
