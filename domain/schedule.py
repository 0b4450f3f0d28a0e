"""A user's daily times: replace them, add some, remove some (DESIGN.md §7.1).

Each function returns the new rounds, sorted by time of day; the rounds of times that stay
are kept as they are (an open round goes on), and a removed time's round is dropped, which
cancels it. One round a day per time: a schedule that replaces times already asked today
starts its new times tomorrow, so a dose is never asked about twice."""
from typing import Iterable, List, NamedTuple, Sequence, Tuple

from domain.rounds import Round, Time
from domain.wallclock import local_day, next_occurrence, start_of_next_day

MAX_TIMES = 5


class TooManyTimes(ValueError):
    pass


class Replaced(NamedTuple):
    rounds: Tuple[Round, ...]
    from_tomorrow: bool   # new times wait for tomorrow (a replaced time was asked today)


class Removed(NamedTuple):
    rounds: Tuple[Round, ...]
    removed: Tuple[Time, ...]
    not_set: Tuple[Time, ...]  # asked to remove but not there: nothing was removed


def replace(rounds: Sequence[Round], times: Iterable[Time], now: float, tz) -> Replaced:
    wanted = _distinct(times)
    kept = {round.time: round for round in rounds if round.time in wanted}
    asked_today = any(_asked_today(round, now, tz) for round in rounds
                      if round.time not in kept)
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
        new.append(Round(hour, minute, due=due))
    return Replaced(tuple(new), from_tomorrow)


def add(rounds: Sequence[Round], times: Iterable[Time], now: float, tz) -> Tuple[Round, ...]:
    """New times start at their next occurrence (they were never asked)."""
    present = {round.time for round in rounds}
    new = list(rounds) + [Round(hour, minute, due=next_occurrence(hour, minute, tz, now))
                          for hour, minute in _distinct(times) if (hour, minute) not in present]
    return _sorted(new)


def remove(rounds: Sequence[Round], times: Iterable[Time]) -> Removed:
    unwanted = _distinct(times)
    present = {round.time for round in rounds}
    not_set = tuple(time for time in unwanted if time not in present)
    if not_set:
        return Removed(tuple(rounds), (), not_set)
    return Removed(tuple(round for round in rounds if round.time not in unwanted),
                   tuple(unwanted), ())


def _distinct(times: Iterable[Time]) -> List[Time]:
    distinct = sorted(set(times))
    if len(distinct) > MAX_TIMES:
        raise TooManyTimes(len(distinct))
    return distinct


def _sorted(rounds: List[Round]) -> Tuple[Round, ...]:
    if len(rounds) > MAX_TIMES:
        raise TooManyTimes(len(rounds))
    return tuple(sorted(rounds, key=lambda round: round.time))


def _asked_today(round: Round, now: float, tz) -> bool:
    """The user was sent at least one ask of this round today, or its first ask is on its
    way (an open round): a new time replacing it starts tomorrow, so nobody is reminded of
    one dose twice in a day. A round that fell due while the bot was down and was never sent
    does not count."""
    return ((round.asks > 0 or round.is_open) and round.at is not None
            and local_day(round.at, tz) == local_day(now, tz))


def rezone(rounds: Sequence[Round], now: float, tz) -> Tuple[Round, ...]:
    """The rounds in a new zone: each next first ask at its wall-clock time there. An open
    round goes on asking; a paused one (no due time) stays paused. The rounds' own
    one-round-a-day rule keeps a day's round from being asked twice."""
    return tuple(round._replace(due=next_occurrence(round.hour, round.minute, tz, now))
                 if round.due is not None and not round.is_open else round
                 for round in rounds)
