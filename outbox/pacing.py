"""Paces sends under a rate, cooperatively (gevent): each caller reserves the next free slot,
so waiting senders go in arrival order and nobody polls.

When LINE answers 429 (rate limit), `slow_down()` halves the rate for every sender (at most
once per `cut_interval`, so one storm seen by many in-flight pushes counts once); after each
quiet `recover_after` seconds without a 429 the rate climbs back by a step of the nominal
rate (additive increase, multiplicative decrease).

`SharedPace` lets two kinds of sends that LINE counts together (replies and pushes) take
turns at one limiter's rate. `SendWindow` holds LINE's own limit where the request is
written: a slot handed out on time may be used late, behind a busy CPU, together with the
next ones."""
import logging
from collections import deque

import gevent
from gevent.event import Event

from outbox.clock import real_seconds as _monotonic  # real time, even under freezegun

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, rate: float, burst: int = None, *, what: str = "pushes",
                 min_rate: float = None,
                 cut_interval: float = 1.0, recover_after: float = 5.0,
                 recover_steps: int = 8):
        self.what = what
        self.nominal_rate = float(rate)
        self.nominal_burst = burst if burst is not None else max(1, int(rate / 20))
        self.min_rate = float(min_rate) if min_rate is not None else min(1.0, self.nominal_rate)
        self.cut_interval = cut_interval
        self.recover_after = recover_after
        self.recover_steps = recover_steps
        self.rate = self.nominal_rate
        self.burst = self.nominal_burst
        self._next_slot = float("-inf")
        self._last_cut = float("-inf")
        self._calm_since = float("-inf")  # start of the current quiet period (no 429 since)

    @property
    def slowed(self) -> bool:
        return self.rate < self.nominal_rate

    def take(self) -> None:
        """Wait for this caller's slot. Up to `burst` calls may go at once after a quiet spell."""
        now = _monotonic()
        slot = self._free_slot(now)
        self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            gevent.sleep(slot - now)

    def try_take(self) -> bool:
        """Take a slot if one is free now; never waits."""
        now = _monotonic()
        slot = self._free_slot(now)
        if slot > now:
            return False
        self._next_slot = slot + 1.0 / self.rate
        return True

    def next_free_in(self) -> float:
        """Seconds until a slot is free (0: now)."""
        now = _monotonic()
        return max(0.0, self._free_slot(now) - now)

    def _free_slot(self, now: float) -> float:
        if self.slowed:
            self._recover(now)
        return max(self._next_slot, now - (self.burst - 1) / self.rate)

    def slow_down(self) -> bool:
        """LINE said 429 (rate limit): halve the rate for everyone. True if it was lowered."""
        now = _monotonic()
        self._calm_since = now
        if now - self._last_cut < self.cut_interval or self.rate <= self.min_rate:
            return False
        self._last_cut = now
        self._apply(max(self.min_rate, self.rate / 2))
        log.warning("LINE rate limit hit: %s slowed to %.1f/s (nominal %.1f/s)", self.what,
                    self.rate, self.nominal_rate)
        return True

    def _recover(self, now: float) -> None:
        periods = int((now - self._calm_since) // self.recover_after)
        if periods <= 0:
            return
        self._calm_since += periods * self.recover_after
        step = self.nominal_rate / self.recover_steps
        self._apply(min(self.nominal_rate, self.rate + periods * step))
        if not self.slowed:
            log.info("no LINE rate limit for a while: %s back at %.1f/s", self.what, self.rate)

    def _apply(self, rate: float) -> None:
        self.rate = rate
        # The burst shrinks with the rate: a slowed sender must not spend it in one go.
        self.burst = max(1, int(self.nominal_burst * rate / self.nominal_rate))


class SharedPace:
    """One limiter's rate for two lanes that LINE counts together: `first` (replies) and
    `second` (pushes). A caller goes at once when a slot is free and nobody waits; otherwise
    it queues in its lane, and one greenlet hands out the slots as the rate frees them: while
    both lanes wait, `first_turns` to the first for each one to the second; while one waits
    alone, every slot to it. Slots are handed out as they come rather than reserved ahead, so
    a burst of pushes queued first holds a reply back by at most one slot in
    `first_turns + 1`, and a flood of replies still leaves pushes their one in
    `first_turns + 1`."""

    # The hand-out wakes at most this often (a wake and a timer a slot cost more than the
    # slot's request at 1,800/s); the slots due meanwhile go out together, as the limiter's
    # burst allows after a pause.
    TICK_SECONDS = 0.005

    def __init__(self, limiter: RateLimiter, first_turns: int):
        self.limiter = limiter
        self.first_turns = first_turns
        self.first = _Lane(self)
        self.second = _Lane(self)
        self._first_in_a_row = 0
        self._dispatcher = None

    @property
    def first_share(self) -> float:
        """The part of the rate the first lane has even while the second one waits."""
        return self.first_turns / (self.first_turns + 1)

    def _take(self, lane, timeout) -> bool:
        if self._dispatcher is None and self.limiter.try_take():
            return True
        turn = _Turn()
        lane.waiting.append(turn)
        if self._dispatcher is None:
            self._dispatcher = gevent.spawn(self._hand_out)
        if turn.wait(timeout):
            return True
        turn.given_up = True  # still queued (nothing ran since the wait): skipped when reached
        return False

    def _hand_out(self):
        try:
            while self._anyone_waiting():
                if self.limiter.try_take():
                    self._whose_turn().waiting.popleft().set()
                else:  # every slot due by then at the next wake, within the limiter's burst
                    gevent.sleep(max(self.limiter.next_free_in(), self.TICK_SECONDS))
        finally:
            self._dispatcher = None

    def _anyone_waiting(self) -> bool:
        for lane in (self.first, self.second):
            while lane.waiting and lane.waiting[0].given_up:
                lane.waiting.popleft()
        return bool(self.first.waiting or self.second.waiting)

    def _whose_turn(self):
        """The lane whose turn it is, among those with a caller still waiting (`_hand_out` has
        just dropped the given-up places and found someone)."""
        if self.first.waiting and (not self.second.waiting
                                   or self._first_in_a_row < self.first_turns):
            self._first_in_a_row += 1
            return self.first
        self._first_in_a_row = 0
        return self.second


class _Lane:
    """One kind of send's way to the shared rate: `take` as a RateLimiter's (with a timeout),
    and a 429 slows the whole rate down."""

    def __init__(self, pace: SharedPace):
        self._pace = pace
        self.waiting = deque()

    def take(self, timeout=None) -> bool:
        """Wait for a slot; False when `timeout` seconds passed first (the place is given up)."""
        return self._pace._take(self, timeout)

    def slow_down(self) -> bool:
        return self._pace.limiter.slow_down()


class _Turn(Event):
    __slots__ = ("given_up",)

    def __init__(self):
        super().__init__()
        self.given_up = False


class SendWindow:
    """At most `limit` requests in any `seconds`, counted when they are written. Called right
    before a request is written (nothing may yield between the two): a request that would be
    one too many waits until the oldest of the last `limit` is `seconds` old."""

    def __init__(self, limit: int, seconds: float = 1.0):
        self.seconds = seconds
        self._written = deque(maxlen=max(1, int(limit)))

    def wait_turn(self) -> None:
        written = self._written
        while len(written) == written.maxlen:
            wait = written[0] + self.seconds - _monotonic()
            if wait <= 0:
                break
            gevent.sleep(wait)
        written.append(_monotonic())
