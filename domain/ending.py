"""What rounds that ended bring to a user's record: the changes to their history (記録), and
the alerts owed to their watchers. Both are saved in the same compare-and-set as the record,
so an outcome is counted, and its alert owed, exactly once."""
from typing import Sequence, Tuple

from domain import history, watch
from domain.history import TallyChange
from domain.rounds import RoundEnded, RoundState
from domain.user import UserRecord


def tells_watchers(effects) -> bool:
    """A round ended missed: its alert goes to whoever watches the user now."""
    return any(isinstance(effect, RoundEnded) and effect.outcome is RoundState.MISSED
               for effect in effects)


def settle(record: UserRecord, effects, watchers: Sequence[str],
           now: float) -> Tuple[UserRecord, Tuple[TallyChange, ...]]:
    """The record with the alerts that the rounds ended in `effects` owe its `watchers`, and
    the history changes they bring (to be saved with it)."""
    ended = [effect for effect in effects if isinstance(effect, RoundEnded)]
    if any(effect.outcome in (RoundState.MISSED, RoundState.LATE) for effect in ended):
        record = record._replace(
            alerts=record.alerts + watch.alerts_for(ended, record.doses, watchers, now))
    return record, history.changes(ended)
