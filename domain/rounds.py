"""A daily dose and its round: the first ask at the dose's time, a re-ask every snooze
interval, and how the round ends.

    decide(dose, event, now, rules, tz) -> (dose, effects)

is the whole logic, a plain function: no clock, no I/O. Whoever handles the user (their actor,
or for a group of plain wake-ups actors/together.py) loads the dose, applies the event, saves
the new dose (compare-and-set) and then carries out the effects in order.

    (no round yet) --Due--> ASKING --Delivered x (1 + max_reasks)--> EXHAUSTED --Due--> MISSED
                              |                                        |                 |
                              +--------------Answered------------------+--> TAKEN       +--Answered--> LATE

A round that is not open waits for the next day's first ask (`due`); starting it replaces
the ended one, which is when a MISSED round stops accepting a late answer. The states and the
exactly-once protocol around them: docs/design.md, Round states and Exactly once.
"""
import enum
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

from domain.days import EVERY_DAY, Days, next_ask
from domain.wallclock import local_day

Time = Tuple[int, int]  # (hour, minute) on a wall clock

# Something due within this much of "now" counts as due (timers may fire a hair early).
DUE_TOLERANCE = 0.001


class RoundState(str, enum.Enum):
    ASKING = "asking"        # asked; the next re-ask is due at `due`
    EXHAUSTED = "exhausted"  # every ask sent; an answer before `due` still counts as taken
    TAKEN = "taken"          # answered in time
    MISSED = "missed"        # unanswered one interval after the last ask; may still turn late
    LATE = "late"            # answered after it was missed, before the next round of its time
    NOT_ASKED = "not_asked"  # its first ask fell due while the bot could not ask, past the grace
    CANCELLED = "cancelled"  # stopped while open: the user cannot be reached (blocked)


OPEN = frozenset({RoundState.ASKING, RoundState.EXHAUSTED})
# How a round ends, for the history (記録); a cancelled round is not an outcome.
OUTCOMES = (RoundState.TAKEN, RoundState.LATE, RoundState.MISSED, RoundState.NOT_ASKED)


@dataclass(frozen=True)
class Rules:
    snooze_interval: float
    max_reasks: int
    grace: float             # a first ask missed while down is still sent this late


class Dose(NamedTuple):
    """A dose: its time (`hour`:`minute`, wall clock in the user's zone), the medicine's name
    and the days it is taken on, and the state of its current round. Immutable; a tuple, so
    that loading thousands of due users builds them fast."""
    hour: int
    minute: int
    due: Optional[float] = None          # when it next needs attention: a first ask, a
                                         # re-ask, or the end of an unanswered round
    at: Optional[float] = None           # the current round's scheduled first ask (its id)
    day: Optional[str] = None            # the current round's local date
    state: Optional[RoundState] = None   # None: never asked
    asks: int = 0                        # asks sent this round: 1 = the first, 1 + k = k re-asks
    answered_at: Optional[float] = None
    alerted: Tuple[str, ...] = ()        # watchers told that this round was missed
    name: Optional[str] = None           # the medicine, as the user named it
    days: Days = EVERY_DAY               # the days it is asked on

    @property
    def time(self) -> Time:
        return self.hour, self.minute

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def answerable(self) -> bool:
        """Open, or missed and not yet replaced by the next day's round (a late answer)."""
        return self.state in OPEN or self.state is RoundState.MISSED


# -- events -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Due:
    """The dose's due time has come. `reasks_allowed` is False when the month's message
    quota is used up: first asks still go, re-asks stop."""
    reasks_allowed: bool = True


@dataclass(frozen=True)
class Delivered:
    """The ask the round was due for is spent: LINE showed it (or had it already), or refused
    it for good (logged once by the sender)."""


@dataclass(frozen=True)
class NotDelivered:
    """LINE could not take the ask (5xx, timeouts): the user has not seen it."""


@dataclass(frozen=True)
class Answered:
    """The user answered this round (any message, or its own button)."""


@dataclass(frozen=True)
class Cancel:
    """The user cannot be reached (they blocked the bot): stop, keep no due time. (A time
    removed or replaced is dropped with its round instead: domain/schedule.py.)"""


@dataclass(frozen=True)
class Resume:
    """The user is back (followed the bot again): schedule the next first ask."""


# -- effects ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendAsk:
    """Claim and send ask `attempt` (0 = "飲んだ?") of the round that starts at `round_at`."""
    attempt: int
    round_at: float


@dataclass(frozen=True)
class RoundEnded:
    """The round of `day` (starting at `round_at`) ended as `outcome`, or changed outcome
    from `was` (a missed round answered late)."""
    day: str
    round_at: float
    outcome: RoundState
    was: Optional[RoundState] = None


Event = Due | Delivered | NotDelivered | Answered | Cancel | Resume
Effect = SendAsk | RoundEnded
Decision = Tuple[Dose, Tuple[Effect, ...]]


class TransitionError(ValueError):
    """An event that the round's state does not allow."""


def decide(dose: Dose, event: Event, now: float, rules: Rules, tz) -> Decision:
    return _HANDLERS[type(event)](dose, event, now, rules, tz)


def next_first_ask(dose: Dose, tz, after: float) -> float:
    """When the dose's next round starts: its time on its next day after `after`."""
    return next_ask(dose.hour, dose.minute, dose.days, tz, after)


# -- Due --------------------------------------------------------------------------------------
def _due(dose: Dose, event: Due, now, rules, tz) -> Decision:
    if dose.due is None or dose.due > now + DUE_TOLERANCE:
        return dose, ()  # a stale wake: the due time moved
    if dose.state is RoundState.EXHAUSTED:
        return _end_unanswered(dose, now, tz)
    if dose.state is not RoundState.ASKING:
        if _ran_on_the_day_of(dose, dose.due, tz):
            # One round a day per time, in the zone the user is in now (a zone change or an
            # hour that repeats must not ask that day again).
            return dose._replace(due=next_first_ask(dose, tz, dose.due)), ()
        dose = dose._replace(at=dose.due, day=local_day(dose.due, tz),
                             state=RoundState.ASKING, asks=0, answered_at=None, alerted=())
    attempt = dose.asks
    if attempt == 0:
        if now - dose.at > rules.grace:  # the bot was down when it fell due
            return _end(dose._replace(state=RoundState.NOT_ASKED,
                                      due=next_first_ask(dose, tz, now)))
        return dose, (SendAsk(0, dose.at),)
    if now - dose.due > rules.grace:      # down through the re-asks: stop asking
        return _end_unanswered(dose, now, tz)
    if not event.reasks_allowed:
        return dose._replace(state=RoundState.EXHAUSTED, due=now + rules.snooze_interval), ()
    return dose, (SendAsk(attempt, dose.at),)


def _ran_on_the_day_of(dose: Dose, moment: float, tz) -> bool:
    """This time's round of `moment`'s day has begun, whether or not an ask went out (one
    that fell due while the bot was down is that day's round too). Compare
    schedule._asked_today, which asks whether the user was asked."""
    return (dose.state is not None and dose.at is not None
            and local_day(dose.at, tz) == local_day(moment, tz))


def _end_unanswered(dose: Dose, now, tz) -> Decision:
    return _end(dose._replace(state=RoundState.MISSED, due=next_first_ask(dose, tz, now)))


def _end(dose: Dose, was: Optional[RoundState] = None) -> Decision:
    return dose, (RoundEnded(dose.day, dose.at, dose.state, was),)


# -- the ask's result -------------------------------------------------------------------------
def _delivered(dose: Dose, event, now, rules, tz) -> Decision:
    _require_open(dose, event)
    asks = dose.asks + 1
    state = RoundState.ASKING if asks <= rules.max_reasks else RoundState.EXHAUSTED
    # The next ask is spaced from this one's delivery.
    return dose._replace(asks=asks, state=state, due=now + rules.snooze_interval), ()


def _not_delivered(dose: Dose, event, now, rules, tz) -> Decision:
    _require_open(dose, event)
    retry_at = now + rules.snooze_interval
    if retry_at < next_first_ask(dose, tz, now):
        # The same ask stays the next one: not "飲んだ??" for a "飲んだ?" nobody saw.
        return dose._replace(due=retry_at), ()
    if dose.asks == 0:
        return _end(dose._replace(state=RoundState.NOT_ASKED,
                                  due=next_first_ask(dose, tz, now)))
    return _end_unanswered(dose, now, tz)


def _require_open(dose: Dose, event) -> None:
    if not dose.is_open:
        raise TransitionError(f"{type(event).__name__} for a round that is {dose.state}")


# -- the user -----------------------------------------------------------------------------------
def _answered(dose: Dose, event, now, rules, tz) -> Decision:
    if dose.is_open:
        return _end(dose._replace(state=RoundState.TAKEN, answered_at=now,
                                  due=next_first_ask(dose, tz, now)))
    if dose.state is RoundState.MISSED:
        return _end(dose._replace(state=RoundState.LATE, answered_at=now),
                    was=RoundState.MISSED)
    return dose, ()


def _cancel(dose: Dose, event, now, rules, tz) -> Decision:
    state = RoundState.CANCELLED if dose.is_open else dose.state
    return dose._replace(state=state, due=None), ()


def _resume(dose: Dose, event, now, rules, tz) -> Decision:
    if dose.due is not None:
        return dose, ()
    return dose._replace(due=next_first_ask(dose, tz, now)), ()


_HANDLERS = {
    Due: _due, Delivered: _delivered, NotDelivered: _not_delivered,
    Answered: _answered, Cancel: _cancel, Resume: _resume,
}
