"""A user's daily times: replace them, add some, remove some.

Each function returns the new doses, sorted by time of day; the doses of times that stay
are kept as they are (an open round goes on), and a removed time's dose is dropped, which
cancels its round. One round a day per time: a schedule that replaces times already asked today
starts its new times tomorrow, so a dose is never asked about twice."""
from typing import Iterable, List, NamedTuple, Sequence, Tuple

from domain.rounds import Dose, Time
from domain.wallclock import local_day, next_occurrence, start_of_next_day

MAX_TIMES = 5


class TooManyTimes(ValueError):
    pass


class Replaced(NamedTuple):
    doses: Tuple[Dose, ...]
    from_tomorrow: bool   # new times wait for tomorrow (a replaced time was asked today)


class Removed(NamedTuple):
    doses: Tuple[Dose, ...]
    removed: Tuple[Time, ...]
    not_set: Tuple[Time, ...]  # asked to remove but not there: nothing was removed


def replace(doses: Sequence[Dose], times: Iterable[Time], now: float, tz) -> Replaced:
    wanted = _distinct(times)
    kept = {dose.time: dose for dose in doses if dose.time in wanted}
    asked_today = any(_asked_today(dose, now, tz) for dose in doses
                      if dose.time not in kept)
    new, from_tomorrow = [], False
    for hour, minute in wanted:
        if (hour, minute) in kept:
            new.append(kept[(hour, minute)])
            continue
        soonest = next_occurrence(hour, minute, tz, now)
        due = soonest
        if asked_today:
            due = next_occurrence(hour, minute, tz, start_of_next_day(tz, now) - 1e-3)
            from_tomorrow = from_tomorrow or due != soonest
        new.append(Dose(hour, minute, due=due))
    return Replaced(tuple(new), from_tomorrow)


def add(doses: Sequence[Dose], times: Iterable[Time], now: float, tz) -> Tuple[Dose, ...]:
    """New times start at their next occurrence (they were never asked)."""
    present = {dose.time for dose in doses}
    new = list(doses) + [Dose(hour, minute, due=next_occurrence(hour, minute, tz, now))
                         for hour, minute in _distinct(times) if (hour, minute) not in present]
    return _sorted(new)


def remove(doses: Sequence[Dose], times: Iterable[Time]) -> Removed:
    unwanted = _distinct(times)
    present = {dose.time for dose in doses}
    not_set = tuple(time for time in unwanted if time not in present)
    if not_set:
        return Removed(tuple(doses), (), not_set)
    return Removed(tuple(dose for dose in doses if dose.time not in unwanted),
                   tuple(unwanted), ())


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


def rezone(doses: Sequence[Dose], now: float, tz) -> Tuple[Dose, ...]:
    """The doses in a new zone: each next first ask at its wall-clock time there. An open
    round goes on asking; a paused dose (no due time) stays paused. The doses' own
    one-round-a-day rule keeps a day's round from being asked twice."""
    return tuple(dose._replace(due=next_occurrence(dose.hour, dose.minute, tz, now))
                 if dose.due is not None and not dose.is_open else dose
                 for dose in doses)
