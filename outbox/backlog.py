"""The replies this process owes: webhook events it answered 200 whose reply has not gone yet,
whether the event still waits for its user's actor or the reply waits for LINE.

The edge promises every reply a webhook's events will need before it tells anyone (before the
redelivery check is written). While the replies already owed would take longer than `seconds`
to go out at the rate the outbox can send now, a promise waits for room, first come first
served: a sender that keeps sending (LINE's webhook connections) is slowed down to the pace
of the replies instead of being answered at once and sending again. A promise that finds no
room in its wait is refused; the edge answers 503, LINE redelivers the webhook later and the
redelivery check keeps it once.

Each promise carries its deadline, counted from when the edge asked (as the webhook came):
a reply token is good for about a minute after LINE sent the webhook (LINE promises no
more), so the outbox does not try past it. A promise is settled when the reply went or
failed, or when the event's handling ended without one (an actor that crashed, a redelivery
dropped)."""
from collections import deque
from typing import Callable, Iterable, Optional

from gevent.event import Event

from outbox.clock import real_seconds

# From the webhook to the last try of its reply: a third of LINE's minute, so that a token
# is never sent stale, whatever the webhook's time on the way.
REPLY_DEADLINE_SECONDS = 20.0
# Replies owed, counted in seconds of sending at the rate the outbox can reach: the longest
# a reply waits its turn before the edge refuses more (well inside the deadline, even at
# half the rate after a 429).
REPLY_BACKLOG_SECONDS = 2.0


class ReplyBacklog:
    def __init__(self, throughput: Callable[[], float], *,
                 seconds: float = REPLY_BACKLOG_SECONDS,
                 deadline: float = REPLY_DEADLINE_SECONDS, clock=real_seconds):
        """`throughput()`: replies a second the outbox can send now."""
        self._throughput = throughput
        self.seconds = seconds
        self.deadline_seconds = deadline
        self._clock = clock
        self._owed = {}          # reply token -> deadline (the clock's seconds)
        self._waiting = deque()  # _Wait: promises waiting for room, first come first served

    @property
    def owed(self) -> int:
        return len(self._owed)

    @property
    def limit(self) -> int:
        """How many replies may be owed at once now."""
        return max(1, int(self.seconds * self._throughput()))

    def promise(self, tokens: Iterable[str], wait: float = 0.0) -> bool:
        """Owe a reply to each token, or (False) to none: they would not go out in time, and
        no room came within `wait` seconds. A body's events are taken or refused together
        (LINE redelivers the whole body); a body larger than the limit is taken when nothing
        else is owed. The deadlines count from this call, before any wait."""
        ask = _Wait(list(tokens), self._clock() + self.deadline_seconds)
        self._hand_room()  # to those still waiting, if the rate rose; and drop those gone
        if not self._waiting and self._has_room(ask):
            self._owe(ask)
            return True
        if wait <= 0:
            return False
        self._waiting.append(ask)
        if ask.wait(wait):
            return True  # owed on its behalf when room came (_hand_room)
        ask.given_up = True  # still queued (nothing ran since the wait): skipped
        return False

    def deadline(self, token: str) -> float:
        """When the reply to `token` stops being worth sending: its promise's deadline, or
        (a reply nobody promised: a test, a tool) a deadline from now."""
        promised = self._owed.get(token)
        return promised if promised is not None else self._clock() + self.deadline_seconds

    def settle(self, token: Optional[str]) -> None:
        """The reply to `token` went, failed, or will never be sent: it is owed no more."""
        if token is not None and self._owed.pop(token, None) is not None and self._waiting:
            self._hand_room()

    def _has_room(self, ask) -> bool:
        return not self._owed or len(self._owed) + len(ask.tokens) <= self.limit

    def _owe(self, ask) -> None:
        for token in ask.tokens:
            self._owed[token] = ask.deadline

    def _hand_room(self) -> None:
        while self._waiting:
            ask = self._waiting[0]
            if not ask.given_up:
                if not self._has_room(ask):
                    return
                self._owe(ask)
                ask.set()
            self._waiting.popleft()


class _Wait(Event):
    """A promise waiting for room: set once its tokens are owed."""

    def __init__(self, tokens, deadline):
        super().__init__()
        self.tokens, self.deadline, self.given_up = tokens, deadline, False
