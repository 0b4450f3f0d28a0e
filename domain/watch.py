"""Family watch (見守り): which alerts a round's end owes the user's watchers.

When a round ends unanswered (MISSED) every watcher is told; when that round is answered late
(LATE), the watchers who were told hear that it was taken. An alert waits in the user's record
until each of its watchers has been told, so a restart or a second process sends what is left
(with the same retry key: never twice)."""
import enum
from typing import Iterable, NamedTuple, Sequence, Tuple

from domain.rounds import Dose, RoundEnded, RoundState

MAX_WATCHERS = 3


class AlertKind(str, enum.Enum):
    MISSED = "missed"   # {A}さんが{H}時{M}分の薬をまだ飲んでいないようです。
    TAKEN = "taken"     # {A}さんが{H}時{M}分の薬を飲みました。


class Alert(NamedTuple):
    kind: AlertKind
    hour: int
    minute: int
    round_at: float           # the round it is about
    to: Tuple[str, ...]       # watchers not told yet
    due: float                # when to (try to) tell them

    @property
    def id(self) -> str:
        """The same for every process and every try: the retry keys derive from it."""
        return f"{self.kind.value}:{int(self.round_at)}"


def alerts_for(ended: Iterable[RoundEnded], doses: Sequence[Dose], watchers: Sequence[str],
               now: float) -> Tuple[Alert, ...]:
    """The alerts that rounds ending as `ended` owe (`doses` as they are after it)."""
    by_start = {dose.at: dose for dose in doses}
    alerts = []
    for effect in ended:
        dose = by_start.get(effect.round_at)
        if dose is None:
            continue
        if effect.outcome is RoundState.MISSED and watchers:
            alerts.append(Alert(AlertKind.MISSED, dose.hour, dose.minute, dose.at,
                                tuple(watchers), now))
        elif effect.outcome is RoundState.LATE and dose.alerted:
            alerts.append(Alert(AlertKind.TAKEN, dose.hour, dose.minute, dose.at, dose.alerted,
                                now))
    return tuple(alerts)


def told(doses: Sequence[Dose], alert: Alert, watcher: str) -> Tuple[Dose, ...]:
    """The doses once `watcher` has been told `alert` (a missed round remembers whom)."""
    if alert.kind is not AlertKind.MISSED:
        return tuple(doses)
    return tuple(dose._replace(alerted=dose.alerted + (watcher,))
                 if dose.at == alert.round_at and watcher not in dose.alerted else dose
                 for dose in doses)
