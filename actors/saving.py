"""Saving a user's record once a decision is made: the rounds that ended become the record's
(記録) tally changes and the alerts owed to the user's watchers, all written in the one
compare-and-set with the record."""
import logging
from typing import Sequence, Tuple

from domain import history, watch
from domain.history import TallyChange
from domain.rounds import Cancel, Ended, RoundState
from logsafe import short_id

log = logging.getLogger(__name__)


def save_decided(system, record, effects=()) -> None:
    """Raises Conflict when the stored record changed since `record` was read."""
    watchers = system.watches.watchers(record.user_id) if tells_watchers(effects) else ()
    system.store.save(record, settle(record, effects, watchers, system.timer.now()))


def pause(record, now: float, rules, tz) -> None:
    """LINE cannot deliver to this user (they blocked the bot): stop asking every day. Their
    times are kept; adding the bot again (follow) resumes them."""
    record.apply_to_all(Cancel(), now, rules, tz)
    log.warning("%s cannot receive pushes; reminders paused", short_id(record.user_id))


def tells_watchers(effects) -> bool:
    """A round ended missed: its alert goes to whoever watches the user now."""
    return any(isinstance(effect, Ended) and effect.outcome is RoundState.MISSED
               for effect in effects)


def settle(record, effects, watchers: Sequence[str], now: float) -> Tuple[TallyChange, ...]:
    """Add to `record` the alerts that the rounds ended in `effects` owe; returns the tally
    changes they bring, to be saved with it."""
    ended = [effect for effect in effects if isinstance(effect, Ended)]
    for effect in ended:
        if effect.outcome is RoundState.NOT_ASKED:
            log.warning("an ask for %s fell due while the bot was down; not sent",
                        short_id(record.user_id))
    if any(effect.outcome in (RoundState.MISSED, RoundState.LATE) for effect in ended):
        record.alerts += watch.alerts_for(ended, record.rounds, watchers, now)
    return history.changes(ended)
