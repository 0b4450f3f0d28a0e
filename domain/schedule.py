"""A user's doses: replace their times, add some, remove some, name one.

A dose is identified by its time (hour and minute) alone. Each function returns the new
doses, sorted by time of day; a dose that stays keeps its round (an open round goes on), its
name and, unless the message gave day words, its days; a removed time's dose is dropped,
which cancels its round. One round a day per time: a schedule that replaces times already
asked today starts its new times tomorrow, so a dose is never asked about twice in a day.
`words` is what the message said about days (None: nothing)."""
import zlib
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

from domain.days import EVERY_DAY, DayWords, days_for
from domain.rounds import Dose, Time, next_first_ask
from domain.wallclock import local_day, start_of_next_day

MAX_TIMES = 5
MAX_NAME_LENGTH = 20


class TooManyTimes(ValueError):
    pass


class NotSet(ValueError):
    """A time the user named is not one of their doses."""


class Replaced(NamedTuple):
    doses: Tuple[Dose, ...]
    waits_until: Optional[float] = None  # a replaced time was asked today, so new times that
                                         # would have been asked today wait: the first ask then


class Added(NamedTuple):
    doses: Tuple[Dose, ...]
    added: Tuple[Dose, ...]    # new doses, or doses whose days changed
    already: Tuple[Dose, ...]  # times set already with these days: nothing changed


class Removed(NamedTuple):
    doses: Tuple[Dose, ...]
    removed: Tuple[Dose, ...]
    not_set: Tuple[Time, ...]  # asked to remove but not there: nothing was removed


def replace(doses: Sequence[Dose], times: Iterable[Time], words: Optional[DayWords],
            now: float, tz) -> Replaced:
    wanted = _distinct(times)
    kept = {dose.time: dose for dose in doses if dose.time in wanted}
    asked_today = any(_asked_today(dose, now, tz) for dose in doses if dose.time not in kept)
    earliest = start_of_next_day(tz, now) - 1e-3 if asked_today else now
    new, waited = [], []
    for hour, minute in wanted:
        if (hour, minute) in kept:
            new.append(_with_days(kept[(hour, minute)], words, now, tz))
            continue
        dose = _new_dose(hour, minute, words, tz, earliest)
        if asked_today and dose.due != _new_dose(hour, minute, words, tz, now).due:
            waited.append(dose.due)
        new.append(dose)
    return Replaced(tuple(new), min(waited, default=None))


def _new_dose(hour: int, minute: int, words: Optional[DayWords], tz, after: float) -> Dose:
    """A time not set before, first asked after `after` on the days `words` give."""
    days = EVERY_DAY if words is None else days_for(words, hour, minute, tz, after)
    dose = Dose(hour, minute, days=days)
    return dose._replace(due=next_first_ask(dose, tz, after))


def add(doses: Sequence[Dose], times: Iterable[Time], words: Optional[DayWords], now: float,
        tz) -> Added:
    """New times start at their next occurrence (they were never asked). A time already
    set takes the days the message gave; without day words it stays as it is."""
    present = {dose.time: dose for dose in doses}
    result, added, already = list(doses), [], []
    for hour, minute in _distinct(times):
        old = present.get((hour, minute))
        if old is None:
            dose = _new_dose(hour, minute, words, tz, now)
            result.append(dose)
            added.append(dose)
            continue
        changed = _with_days(old, words, now, tz)
        if changed.days == old.days:
            already.append(old)
        else:
            result[result.index(old)] = changed
            added.append(changed)
    return Added(_sorted(result), tuple(added), tuple(already))


def remove(doses: Sequence[Dose], times: Iterable[Time]) -> Removed:
    unwanted = sorted(set(times))  # any number: only the ones set can go
    present = {dose.time for dose in doses}
    not_set = tuple(time for time in unwanted if time not in present)
    if not_set:
        return Removed(tuple(doses), (), not_set)
    return Removed(tuple(dose for dose in doses if dose.time not in unwanted),
                   tuple(dose for dose in doses if dose.time in unwanted), ())


def name(doses: Sequence[Dose], time: Time, medicine: Optional[str]) -> Tuple[Dose, ...]:
    """The doses with the one at `time` named `medicine` (None: no name). NotSet when there
    is no dose at that time."""
    if time not in {dose.time for dose in doses}:
        raise NotSet(time)
    return tuple(dose._replace(name=medicine) if dose.time == time else dose for dose in doses)


def asks_before_replacing(doses: Sequence[Dose]) -> bool:
    """A time mentioned in passing would wipe something worth asking about: several times, or
    a time with a name or days."""
    return len(doses) > 1 or any(dose.name or not dose.days.every_day for dose in doses)


def fingerprint(doses: Sequence[Dose]) -> str:
    """Eight hex digits that change when the schedule does (times, names, days), not when
    its rounds go on."""
    schedule = repr([(dose.hour, dose.minute, dose.name, tuple(dose.days)) for dose in doses])
    return f"{zlib.crc32(schedule.encode()):08x}"


def rezone(doses: Sequence[Dose], now: float, tz) -> Tuple[Dose, ...]:
    """The doses in a new zone: each next first ask at its wall-clock time there. An open
    round goes on asking; a paused dose (no due time) stays paused. The doses' own
    one-round-a-day rule keeps a day's round from being asked twice."""
    return tuple(_next_round_set(dose, tz, now) for dose in doses)


def _next_round_set(dose: Dose, tz, now: float) -> Dose:
    """`dose` waiting for its next first ask by its (new) zone and days, unless paused (no
    due time) or its round is open (it goes on)."""
    if dose.due is None or dose.is_open:
        return dose
    return dose._replace(due=next_first_ask(dose, tz, now))


def _with_days(dose: Dose, words: Optional[DayWords], now: float, tz) -> Dose:
    """`dose` on the days `words` give (unchanged without words). A round not open waits for
    its next first ask on the new days; an open one goes on."""
    if words is None:
        return dose
    days = days_for(words, dose.hour, dose.minute, tz, now)
    if days == dose.days or (dose.days.every_other_from and words.every_other):
        return dose  # every other day already: keep its rhythm
    return _next_round_set(dose._replace(days=days), tz, now)


def _distinct(times: Iterable[Time]) -> List[Time]:
    distinct = sorted(set(times))
    if len(distinct) > MAX_TIMES:
        raise TooManyTimes(len(distinct))
    return distinct


def _sorted(doses: List[Dose]) -> Tuple[Dose, ...]:
    if len(doses) > MAX_TIMES:
        raise TooManyTimes(len(doses))
    return tuple(sorted(doses, key=lambda dose: dose.time))


def _asked_today(dose: Dose, now: float, tz) -> bool:
    """The user was sent at least one ask of this round today, or its first ask is on its
    way (an open round): a new time replacing it starts tomorrow, so nobody is reminded of
    one dose twice in a day. A round that fell due while the bot was down and was never sent
    does not count."""
    return ((dose.asks > 0 or dose.is_open) and dose.at is not None
            and local_day(dose.at, tz) == local_day(now, tz))
