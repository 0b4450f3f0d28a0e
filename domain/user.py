"""A user's persisted state: their zone and their daily times, each with its round.

Kept compact (slots, a tuple of frozen rounds) because a burst holds thousands at once. The
rounds are what make a restart resume exactly where it stopped."""
from typing import Optional, Tuple

from domain.rounds import Round, Time, decide
from domain.watch import Alert


class UserRecord:
    __slots__ = ("user_id", "tz", "rounds", "version", "alerts")

    def __init__(self, user_id: str, rounds: Tuple[Round, ...] = (), tz: Optional[str] = None,
                 version: int = 0, alerts: Tuple[Alert, ...] = ()):
        self.user_id = user_id
        self.tz = tz                  # None: the bot's default zone
        self.rounds = rounds          # sorted by time of day
        self.version = version        # compare-and-set counter in Redis (0: not stored)
        self.alerts = alerts          # watch alerts not yet told to every watcher

    @property
    def has_time(self) -> bool:
        return bool(self.rounds)

    @property
    def times(self) -> Tuple[Time, ...]:
        return tuple(round.time for round in self.rounds)

    @property
    def due(self) -> Optional[float]:
        """The earliest moment any of the user's rounds or alerts needs attention."""
        due = min((round.due for round in self.rounds if round.due is not None), default=None)
        for alert in self.alerts:
            due = alert.due if due is None else min(due, alert.due)
        return due

    @property
    def is_open(self) -> bool:
        return any(round.is_open for round in self.rounds)

    def replace_round(self, old: Round, new: Round) -> None:
        self.rounds = tuple(new if round is old else round for round in self.rounds)

    def apply_to_all(self, event, now: float, rules, tz) -> bool:
        """Apply `event` to every round (one without effects: Cancel, Resume); True when
        any round changed."""
        changed = False
        for round in self.rounds:
            new, _ = decide(round, event, now, rules, tz)
            if new != round:
                self.replace_round(round, new)
                changed = True
        return changed

    def __repr__(self):
        return (f"UserRecord({self.user_id!r}, tz={self.tz!r}, v={self.version}, "
                f"rounds={self.rounds!r}, alerts={self.alerts!r})")
