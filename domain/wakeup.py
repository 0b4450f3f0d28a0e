"""What a user's wake-up asks of the bot, from their record alone.

At a busy minute nearly every wake-up is plain: one round due, and either its next ask to
send or its end to record (the last re-ask went unanswered), nothing else owed. Those can be
decided, sent and saved for many users at once; anything else (several rounds due, an alert
to tell) is the user's actor's to handle one message at a time."""
from typing import NamedTuple, Tuple, Union

from domain.rounds import DUE_TOLERANCE, Dose, Due, RoundEnded, Rules, SendAsk, decide
from domain.user import UserRecord


class PlainAsk(NamedTuple):
    record: UserRecord
    dose: Dose       # the due dose, as it is in the record
    started: Dose    # the same dose once Due has been applied
    attempt: int      # 0 = "飲んだ?"


class PlainEnd(NamedTuple):
    record: UserRecord
    dose: Dose                       # the due dose, as it is in the record
    ended: Dose                      # the same dose once Due has been applied
    effects: Tuple[RoundEnded, ...]  # how it ended, for the history (記録) and the watchers


def plain_wakeup(record: UserRecord, now: float, rules: Rules, tz,
                 reasks_allowed: bool = True) -> Union[PlainAsk, PlainEnd, None]:
    """The one ask or the one round's end this wake-up is about, or None when it is about
    anything more (or less)."""
    horizon = now + DUE_TOLERANCE
    if any(alert.due <= horizon for alert in record.alerts):
        return None
    due = [dose for dose in record.doses if dose.due is not None and dose.due <= horizon]
    if len(due) != 1:
        return None
    after, effects = decide(due[0], Due(reasks_allowed), now, rules, tz)
    if len(effects) == 1 and type(effects[0]) is SendAsk:
        return PlainAsk(record, due[0], after, effects[0].attempt)
    if effects and all(type(effect) is RoundEnded for effect in effects):
        return PlainEnd(record, due[0], after, effects)
    return None
