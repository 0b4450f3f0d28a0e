"""Saving a user's record once a decision is made: the rounds that ended become the record's
(記録) tally changes and the alerts owed to the user's watchers, all written in the one
compare-and-set with the record."""
import logging

from domain import history, watch
from domain.rounds import Ended, RoundState
from logsafe import short_id

log = logging.getLogger(__name__)


def save_decided(system, record, effects=()) -> None:
    """Raises Conflict when the stored record changed since `record` was read."""
    ended = [effect for effect in effects if isinstance(effect, Ended)]
    for effect in ended:
        if effect.outcome is RoundState.NOT_ASKED:
            log.warning("an ask for %s fell due while the bot was down; not sent",
                        short_id(record.user_id))
    if any(effect.outcome in (RoundState.MISSED, RoundState.LATE) for effect in ended):
        missed = any(effect.outcome is RoundState.MISSED for effect in ended)
        watchers = system.watches.watchers(record.user_id) if missed else ()
        record.alerts += watch.alerts_for(ended, record.rounds, watchers, system.timer.now())
    system.store.save(record, history.changes(ended))
