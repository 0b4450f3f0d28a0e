"""One daily time and its round: the first ask at that time, a re-ask every snooze interval,
and how the round ends.

    decide(round, event, now, rules, tz) -> (round, effects)

is the whole logic, a plain function: no clock, no I/O. The actor that owns the user (or, for
a group of plain wake-ups, actors/together.py) loads the round, applies the event, saves the
new round (compare-and-set) and then carries out the effects in order.

    (no round yet) --Due--> ASKING --Delivered x (1 + max_reasks)--> EXHAUSTED --Due--> MISSED
                              |                                        |                 |
                              +--------------Answered------------------+--> TAKEN       +--Answered--> LATE

A round that is not open waits for the next day's first ask (`due`); starting it replaces
the ended one, which is when a MISSED round stops accepting a late answer.
"""
import enum
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

from domain.wallclock import local_day, next_occurrence, wall_time_on

Time = Tuple[int, int]  # (hour, minute) on a wall clock

# Something due within this much of "now" counts as due (timers may fire a hair early).
DUE_TOLERANCE = 0.001
# How soon an actor looks again at an ask that another sender holds.
LOOK_AGAIN_SECONDS = 1.0


class RoundState(str, enum.Enum):
    ASKING = "asking"        # asked; the next re-ask is due at `due`
    EXHAUSTED = "exhausted"  # every ask sent; an answer before `due` still counts as taken
    TAKEN = "taken"          # answered in time
    MISSED = "missed"        # unanswered one interval after the last ask; may still turn late
    LATE = "late"            # answered after it was missed, before the next round of its time
    NOT_ASKED = "not_asked"  # its first ask fell due while the bot could not ask, past the grace
    CANCELLED = "cancelled"  # its time was removed or replaced while it was open


OPEN = frozenset({RoundState.ASKING, RoundState.EXHAUSTED})
# How a round ends, for the record (記録); a cancelled round is not an outcome.
OUTCOMES = (RoundState.TAKEN, RoundState.LATE, RoundState.MISSED, RoundState.NOT_ASKED)


@dataclass(frozen=True)
class Rules:
    snooze_interval: float
    max_reasks: int
    grace: float             # a first ask missed while down is still sent this late


class Round(NamedTuple):
    """A daily time (`hour`:`minute`, wall clock in the user's zone) and its current round.
    Immutable; a tuple, so that loading thousands of due users builds them fast."""
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
    """The round's due time has come. `reasks_allowed` is False when the month's message
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
class HeldElsewhere:
    """Another sender holds this ask (in flight, or it died holding it) for `wait` seconds."""
    wait: float


@dataclass(frozen=True)
class Answered:
    """The user answered this round (any message, or its own button)."""


@dataclass(frozen=True)
class Cancel:
    """The time is being removed, or the user cannot be reached: stop, keep no due time."""


@dataclass(frozen=True)
class Resume:
    """The user is back (followed the bot again): schedule the next first ask."""


# -- effects ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    """Claim and send ask `attempt` (0 = "飲んだ?") of the round that starts at `round_at`."""
    attempt: int
    round_at: float


@dataclass(frozen=True)
class LookAgain:
    """Wake at `at` without saving anything: the ask belongs to another sender until then."""
    at: float


@dataclass(frozen=True)
class Ended:
    """The round of `day` (starting at `round_at`) ended as `outcome`, or changed outcome
    from `was` (a missed round answered late)."""
    day: str
    round_at: float
    outcome: RoundState
    was: Optional[RoundState] = None


Event = Due | Delivered | NotDelivered | HeldElsewhere | Answered | Cancel | Resume
Effect = Ask | LookAgain | Ended
Decision = Tuple[Round, Tuple[Effect, ...]]


class TransitionError(ValueError):
    """An event that the round's state does not allow."""


def decide(round: Round, event: Event, now: float, rules: Rules, tz) -> Decision:
    return _HANDLERS[type(event)](_settled(round, rules, tz), event, now, rules, tz)


def _settled(round: Round, rules: Rules, tz) -> Round:
    """Rounds as records written before explicit states left them: without `at`, and a
    round given up marked by `asks` past the last re-ask while still "asking"."""
    if round.at is None and round.day is not None:
        round = round._replace(at=wall_time_on(round.day, round.hour, round.minute, tz))
    if round.state is RoundState.ASKING and round.asks > rules.max_reasks:
        round = round._replace(state=RoundState.MISSED)
    return round


def _next_first_ask(round: Round, tz, after: float) -> float:
    return next_occurrence(round.hour, round.minute, tz, after)


# -- Due --------------------------------------------------------------------------------------
def _due(round: Round, event: Due, now, rules, tz) -> Decision:
    if round.due is None or round.due > now + DUE_TOLERANCE:
        return round, ()  # a stale wake: the due time moved
    if round.state is RoundState.EXHAUSTED:
        return _end_unanswered(round, now, tz)
    if round.state is not RoundState.ASKING:
        if _ran_on_the_day_of(round, round.due, tz):
            # One round a day per time, in the zone the user is in now (a zone change or an
            # hour that repeats must not ask that day again).
            return round._replace(due=_next_first_ask(round, tz, round.due)), ()
        round = round._replace(at=round.due, day=local_day(round.due, tz),
                               state=RoundState.ASKING, asks=0, answered_at=None, alerted=())
    attempt = round.asks
    if attempt == 0:
        if now - round.at > rules.grace:  # the bot was down when it fell due
            return _end(round._replace(state=RoundState.NOT_ASKED,
                                       due=_next_first_ask(round, tz, now)))
        return round, (Ask(0, round.at),)
    if now - round.due > rules.grace:      # down through the re-asks: stop asking
        return _end_unanswered(round, now, tz)
    if not event.reasks_allowed:
        return round._replace(state=RoundState.EXHAUSTED, due=now + rules.snooze_interval), ()
    return round, (Ask(attempt, round.at),)


def _ran_on_the_day_of(round: Round, moment: float, tz) -> bool:
    """This time's round of `moment`'s day has begun, whether or not an ask went out (one
    that fell due while the bot was down is that day's round too). Compare
    schedule._asked_today, which asks whether the user was asked."""
    return (round.state is not None and round.at is not None
            and local_day(round.at, tz) == local_day(moment, tz))


def _end_unanswered(round: Round, now, tz) -> Decision:
    return _end(round._replace(state=RoundState.MISSED, due=_next_first_ask(round, tz, now)))


def _end(round: Round, was: Optional[RoundState] = None) -> Decision:
    return round, (Ended(round.day, round.at, round.state, was),)


# -- the ask's result -------------------------------------------------------------------------
def _delivered(round: Round, event, now, rules, tz) -> Decision:
    _require_open(round, event)
    asks = round.asks + 1
    state = RoundState.ASKING if asks <= rules.max_reasks else RoundState.EXHAUSTED
    # The next ask is spaced from this one's delivery.
    return round._replace(asks=asks, state=state, due=now + rules.snooze_interval), ()


def _not_delivered(round: Round, event, now, rules, tz) -> Decision:
    _require_open(round, event)
    retry_at = now + rules.snooze_interval
    if retry_at < _next_first_ask(round, tz, now):
        # The same ask stays the next one: not "飲んだ??" for a "飲んだ?" nobody saw.
        return round._replace(due=retry_at), ()
    if round.asks == 0:
        return _end(round._replace(state=RoundState.NOT_ASKED,
                                   due=_next_first_ask(round, tz, now)))
    return _end_unanswered(round, now, tz)


def look_again_at(now: float, wait: float) -> float:
    """When to look again at what another sender holds for `wait` more seconds."""
    return now + min(wait, LOOK_AGAIN_SECONDS) + 0.05


def _held_elsewhere(round: Round, event: HeldElsewhere, now, rules, tz) -> Decision:
    return round, (LookAgain(look_again_at(now, event.wait)),)


def _require_open(round: Round, event) -> None:
    if not round.is_open:
        raise TransitionError(f"{type(event).__name__} for a round that is {round.state}")


# -- the user -----------------------------------------------------------------------------------
def _answered(round: Round, event, now, rules, tz) -> Decision:
    if round.is_open:
        return _end(round._replace(state=RoundState.TAKEN, answered_at=now,
                                   due=_next_first_ask(round, tz, now)))
    if round.state is RoundState.MISSED:
        return _end(round._replace(state=RoundState.LATE, answered_at=now),
                    was=RoundState.MISSED)
    return round, ()


def _cancel(round: Round, event, now, rules, tz) -> Decision:
    state = RoundState.CANCELLED if round.is_open else round.state
    return round._replace(state=state, due=None), ()


def _resume(round: Round, event, now, rules, tz) -> Decision:
    if round.due is not None:
        return round, ()
    return round._replace(due=_next_first_ask(round, tz, now)), ()


_HANDLERS = {
    Due: _due, Delivered: _delivered, NotDelivered: _not_delivered,
    HeldElsewhere: _held_elsewhere, Answered: _answered, Cancel: _cancel, Resume: _resume,
}
