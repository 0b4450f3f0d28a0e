"""Saving a user's record once a decision is made: the rounds that ended bring their history
(記録) changes and the alerts owed to the user's watchers (domain/ending.py), all written in
the one compare-and-set with the record."""
import logging

from domain.ending import settle, tells_watchers
from domain.rounds import RoundEnded, RoundState
from logsafe import short_id

log = logging.getLogger(__name__)


def save_decided(system, record, effects=(), answering=None):
    """`record` as saved, with what its ended rounds bring (and the webhook event it answers,
    storage/users.Answering). Raises Conflict when the stored record changed since `record`
    was read."""
    watchers = system.watches.watchers(record.user_id) if tells_watchers(effects) else ()
    record, changes = settle(record, effects, watchers, system.timer.now())
    log_not_asked(record.user_id, effects)
    return system.store.users.save(record, changes, answering)


def log_not_asked(user_id: str, effects) -> None:
    for effect in effects:
        if isinstance(effect, RoundEnded) and effect.outcome is RoundState.NOT_ASKED:
            log.warning("an ask for %s fell due while the bot was down; not sent",
                        short_id(user_id))


def log_paused(user_id: str) -> None:
    log.warning("%s cannot receive pushes; reminders paused", short_id(user_id))
