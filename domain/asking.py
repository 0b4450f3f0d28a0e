"""What an ask's outcome does to the user's record: the one step after an ask, the same for a
user's actor and for a group of users asked together."""
import enum
from typing import NamedTuple, Tuple

from domain.rounds import Delivered, Dose, Effect, NotDelivered, Rules, decide
from domain.user import UserRecord

# How soon to look again at an ask that another sender holds.
LOOK_AGAIN_SECONDS = 1.0


class AskResult(enum.Enum):
    SHOWN = "shown"                  # LINE showed it, now or before (409, another sender)
    REFUSED = "refused"              # LINE refused it for good (4xx, quota): spent anyway
    NOT_DELIVERED = "not delivered"  # 5xx, timeouts: the user has not seen it
    UNREACHABLE = "unreachable"      # this user cannot receive pushes (blocked the bot)
    HELD = "held"                    # another sender holds this ask for `wait` more seconds


class AskOutcome(NamedTuple):
    result: AskResult
    wait: float = 0.0


class AfterAsk(NamedTuple):
    record: UserRecord
    effects: Tuple[Effect, ...]  # a round that ended (LINE could not take it all day)
    save: bool                   # False: the ask is another sender's; write nothing, and
                                 # look again at the record's due time (in memory)


_EVENTS = {
    AskResult.SHOWN: Delivered(),
    AskResult.REFUSED: Delivered(),      # spent: logged once per batch by the sender
    AskResult.NOT_DELIVERED: NotDelivered(),
}


def after_ask(record: UserRecord, started: Dose, outcome: AskOutcome, now: float,
              rules: Rules, tz) -> AfterAsk:
    """`record` (holding `started`, the dose whose round was asked) once the ask's outcome is
    known."""
    if outcome.result is AskResult.UNREACHABLE:
        return AfterAsk(record.paused(now, rules, tz), (), save=True)
    if outcome.result is AskResult.HELD:
        look_again = look_again_at(now, outcome.wait)
        return AfterAsk(record.with_dose(started, started._replace(due=look_again)), (),
                        save=False)
    asked, effects = decide(started, _EVENTS[outcome.result], now, rules, tz)
    return AfterAsk(record.with_dose(started, asked), effects, save=True)


def look_again_at(now: float, wait: float) -> float:
    """When to look again at what another sender holds for `wait` more seconds."""
    return now + min(wait, LOOK_AGAIN_SECONDS) + 0.05
