"""Family watch (見守り, DESIGN.md §7.3): which alerts a round's end owes the user's watchers.

When a round ends unanswered (MISSED) every watcher is told; when that round is answered late
(LATE), the watchers who were told hear that it was taken. An alert waits in the user's record
until each of its watchers has been told, so a restart or a second process sends what is left
(with the same retry key: never twice)."""
from typing import Iterable, NamedTuple, Sequence, Tuple

from domain.rounds import Ended, Round, RoundState

MISSED = "missed"   # {A}さんが{H}時{M}分の薬をまだ飲んでいないようです。
TAKEN = "taken"     # {A}さんが{H}時{M}分の薬を飲みました。
MAX_WATCHERS = 3


class Alert(NamedTuple):
    kind: str                 # MISSED or TAKEN
    hour: int
    minute: int
    round_at: float           # the round it is about
    to: Tuple[str, ...]       # watchers not told yet
    due: float                # when to (try to) tell them

    @property
    def id(self) -> str:
        """The same for every process and every try: the retry keys derive from it."""
        return f"{self.kind}:{int(self.round_at)}"


def alerts_for(ended: Iterable[Ended], rounds: Sequence[Round], watchers: Sequence[str],
               now: float) -> Tuple[Alert, ...]:
    """The alerts that rounds ending as `ended` owe (`rounds` as they are after it)."""
    by_start = {round.at: round for round in rounds}
    alerts = []
    for effect in ended:
        round = by_start.get(effect.round_at)
        if round is None:
            continue
        if effect.outcome is RoundState.MISSED and watchers:
            alerts.append(Alert(MISSED, round.hour, round.minute, round.at, tuple(watchers), now))
        elif effect.outcome is RoundState.LATE and round.alerted:
            alerts.append(Alert(TAKEN, round.hour, round.minute, round.at, round.alerted, now))
    return tuple(alerts)


def told(rounds: Sequence[Round], alert: Alert, watcher: str) -> Tuple[Round, ...]:
    """The rounds once `watcher` has been told `alert` (a missed round remembers whom)."""
    if alert.kind != MISSED:
        return tuple(rounds)
    return tuple(round._replace(alerted=round.alerted + (watcher,))
                 if round.at == alert.round_at and watcher not in round.alerted else round
                 for round in rounds)
