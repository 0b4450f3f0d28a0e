"""Which days a dose is asked on: every day, certain days of the week, or every other day.

    next_ask(hour, minute, days, tz, after)

is the one function that answers "when is this dose next asked": the first hour:minute on
a wall clock in `tz`, strictly after `after`, on a day the dose is asked. Days are the
user's local dates in their zone now, so a zone change keeps "Monday" meaning their Monday;
a wall time that does not exist that day (the spring gap) is asked at the first instant
after it, one that happens twice (autumn) at its first occurrence (domain/wallclock.py)."""
from datetime import date, datetime, timedelta
from typing import NamedTuple, Optional, Tuple

from domain.wallclock import instant_of

WEEKDAYS = 7
_EVERY_WEEKDAY = (1 << WEEKDAYS) - 1


class Days(NamedTuple):
    """`weekdays`: a bit per day of the week (bit 0 Monday ... bit 6 Sunday); 0 when the dose
    is asked every day or every other day. `every_other_from`: the ISO date of a day it is
    asked on, when it is asked every second day."""
    weekdays: int = 0
    every_other_from: Optional[str] = None

    @property
    def every_day(self) -> bool:
        return not self.weekdays and self.every_other_from is None

    def on(self, day: date) -> bool:
        """The dose is asked on the local date `day`."""
        if self.every_other_from is not None:
            return (day - date.fromisoformat(self.every_other_from)).days % 2 == 0
        return not self.weekdays or bool(self.weekdays >> day.weekday() & 1)


EVERY_DAY = Days()


def weekday_mask(weekdays) -> int:
    """The bit mask of `weekdays` (0 = Monday ... 6 = Sunday)."""
    mask = 0
    for weekday in weekdays:
        mask |= 1 << weekday
    return mask


def weekdays_of(days: Days) -> Tuple[int, ...]:
    return tuple(weekday for weekday in range(WEEKDAYS) if days.weekdays >> weekday & 1)


class DayWords(NamedTuple):
    """What a message said about days: days of the week (a Days bit mask), every other day,
    or (neither) every day."""
    weekdays: int = 0
    every_other: bool = False


def days_for(words: DayWords, hour: int, minute: int, tz, after: float) -> Days:
    """The days `words` mean for a dose at hour:minute that can first be asked after `after`:
    every other day counts from that first day (today if hour:minute is still ahead)."""
    if words.every_other:
        first = datetime.fromtimestamp(next_ask(hour, minute, EVERY_DAY, tz, after), tz).date()
        return Days(every_other_from=first.isoformat())
    return EVERY_DAY if words.weekdays in (0, _EVERY_WEEKDAY) else Days(weekdays=words.weekdays)


def next_ask(hour: int, minute: int, days: Days, tz, after: float) -> float:
    """Epoch seconds of the first hour:minute (wall clock in `tz`) strictly after `after`, on
    a day of `days`."""
    day = datetime.fromtimestamp(after, tz).date()
    for _ in range(2 * WEEKDAYS + 2):
        if days.on(day):
            instant = instant_of(day, hour, minute, tz)
            if instant > after:
                return instant
        day += timedelta(days=1)
    raise AssertionError(f"unreachable: {days} has no day in two weeks")
