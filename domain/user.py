"""A user's persisted state: their zone, their daily doses (each with its current round) and
the watch alerts not yet told to every watcher.

Immutable: every change is a new record (`with_dose`, `_replace`), and only a save makes it
the stored one (the store returns the record as saved, with its next version). The doses are
what make a restart resume exactly where it stopped."""
from typing import NamedTuple, Optional, Tuple

from domain.rounds import Cancel, Dose, Time, decide
from domain.watch import Alert


class UserRecord(NamedTuple):
    user_id: str
    doses: Tuple[Dose, ...] = ()      # sorted by time of day
    tz: Optional[str] = None          # None: the bot's default zone
    version: int = 0                  # compare-and-set counter in Redis (0: not stored)
    alerts: Tuple[Alert, ...] = ()    # watch alerts not yet told to every watcher

    @property
    def has_time(self) -> bool:
        return bool(self.doses)

    @property
    def times(self) -> Tuple[Time, ...]:
        return tuple(dose.time for dose in self.doses)

    @property
    def due(self) -> Optional[float]:
        """The earliest moment any of the user's doses or alerts needs attention."""
        due = min((dose.due for dose in self.doses if dose.due is not None), default=None)
        for alert in self.alerts:
            due = alert.due if due is None else min(due, alert.due)
        return due

    @property
    def is_open(self) -> bool:
        return any(dose.is_open for dose in self.doses)

    def with_dose(self, old: Dose, new: Dose) -> "UserRecord":
        """The record with `old` (one of its doses, by identity) replaced by `new`."""
        user_id, doses, tz, version, alerts = self  # (not _replace: a burst makes thousands)
        return UserRecord(user_id, tuple(new if dose is old else dose for dose in doses), tz,
                          version, alerts)

    def applied_to_all(self, event, now: float, rules, tz) -> "UserRecord":
        """`event` applied to every dose (one without effects: Cancel, Resume)."""
        return self._replace(doses=tuple(decide(dose, event, now, rules, tz)[0]
                                         for dose in self.doses))

    def paused(self, now: float, rules, tz) -> "UserRecord":
        """LINE cannot deliver to this user (they blocked the bot): no dose is asked any more.
        The times are kept; following the bot again (Resume) brings them back."""
        return self.applied_to_all(Cancel(), now, rules, tz)
