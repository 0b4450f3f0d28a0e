"""The history (記録): how each day's rounds ended, and the last four weeks as a calendar.

A day is ○ when every round asked that day was taken, △ when all were answered and some
late, × when any was missed, and blank when nothing was asked (a round the bot could not ask
does not count as asked). A day shows its mark, and is counted under the calendar, only once
all its rounds have ended (today: every round due today); before that it is in progress, so
the calendar and its counts never disagree."""
import enum
from datetime import date, timedelta
from typing import Iterable, Mapping, NamedTuple, Sequence, Tuple

from domain.rounds import OUTCOMES, Dose, RoundEnded, RoundState
from domain.wallclock import local_day

CALENDAR_DAYS = 28
KEEP_DAYS = 90  # outcomes are kept at least this long


class DayTally(NamedTuple):
    """How many of a day's rounds ended each way (OUTCOMES order)."""
    taken: int = 0
    late: int = 0
    missed: int = 0
    not_asked: int = 0


class Mark(enum.Enum):
    TAKEN = "○"
    LATE = "△"
    MISSED = "×"
    IN_PROGRESS = "…"   # a round of the day still open, or one due today still to come
    BLANK = ""


class DayCell(NamedTuple):
    day: date
    mark: Mark
    today: bool


class Calendar(NamedTuple):
    days: Tuple[DayCell, ...]   # oldest first; 4 rows of 7, the last one today
    taken: int                  # ○ days among the days whose rounds have all ended
    late: int                   # △ days
    missed: int                 # × days


class TallyChange(NamedTuple):
    day: str
    outcome: RoundState
    delta: int


def changes(ended: Iterable[RoundEnded]) -> Tuple[TallyChange, ...]:
    """What `RoundEnded` effects change in the day tallies (a late answer moves one round from
    missed to late)."""
    result = []
    for effect in ended:
        if effect.was is not None:
            result.append(TallyChange(effect.day, effect.was, -1))
        result.append(TallyChange(effect.day, effect.outcome, +1))
    return tuple(result)


def outcome_index(outcome: RoundState) -> int:
    return OUTCOMES.index(outcome)


def mark(tally: DayTally) -> Mark:
    if tally.missed:
        return Mark.MISSED
    if tally.late:
        return Mark.LATE
    if tally.taken:
        return Mark.TAKEN
    return Mark.BLANK


def calendar(today: date, tallies: Mapping[date, DayTally], doses: Sequence[Dose], now: float,
             tz) -> Calendar:
    """The last CALENDAR_DAYS days up to `today`; `doses` are the user's doses now."""
    open_days = {date.fromisoformat(dose.day) for dose in doses
                 if dose.is_open and dose.day is not None}
    to_come_today = _round_to_come_today(doses, now, tz)
    cells, counts = [], {Mark.TAKEN: 0, Mark.LATE: 0, Mark.MISSED: 0}
    for offset in range(CALENDAR_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        is_today = offset == 0
        ended = day not in open_days and not (is_today and to_come_today)
        day_mark = mark(tallies.get(day, DayTally())) if ended else Mark.IN_PROGRESS
        if day_mark in counts:
            counts[day_mark] += 1
        cells.append(DayCell(day, day_mark, is_today))
    return Calendar(tuple(cells), counts[Mark.TAKEN], counts[Mark.LATE], counts[Mark.MISSED])


def _round_to_come_today(doses: Sequence[Dose], now: float, tz) -> bool:
    """A round whose first ask today has not come yet."""
    today = local_day(now, tz)
    return any(dose.due is not None and not dose.is_open and dose.day != today
               and local_day(dose.due, tz) == today for dose in doses)
