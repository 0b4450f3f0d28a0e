"""What a user's wake-up asks of the bot, from their record alone.

At a busy minute nearly every wake-up is a plain ask: one round due, its next ask to send,
nothing else owed. Those can be decided, sent and saved for many users at once; anything
else (several rounds due, an alert to tell, a round that ends) is the user's actor's to
handle one message at a time."""
from typing import NamedTuple, Optional

from domain.rounds import DUE_TOLERANCE, Ask, Due, Round, Rules, decide
from domain.user import UserRecord


class PlainAsk(NamedTuple):
    record: UserRecord
    round: Round      # the due round, as it is in the record
    started: Round    # the same round once Due has been applied
    attempt: int      # 0 = "飲んだ?"


def plain_ask(record: UserRecord, now: float, rules: Rules, tz,
              reasks_allowed: bool = True) -> Optional[PlainAsk]:
    """The one ask this wake-up is about, or None when it is about anything more (or less)."""
    horizon = now + DUE_TOLERANCE
    if any(alert.due <= horizon for alert in record.alerts):
        return None
    due = [round for round in record.rounds if round.due is not None and round.due <= horizon]
    if len(due) != 1:
        return None
    started, effects = decide(due[0], Due(reasks_allowed), now, rules, tz)
    if len(effects) != 1 or type(effects[0]) is not Ask:
        return None
    return PlainAsk(record, due[0], started, effects[0].attempt)
