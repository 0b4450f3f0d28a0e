"""Paces sends under a rate, cooperatively (gevent): each caller reserves the next free slot,
so waiting senders go in arrival order and nobody polls.

When LINE answers 429 (rate limit), `slow_down()` halves the rate for every sender (at most
once per `cut_interval`, so one storm seen by many in-flight pushes counts once); after each
quiet `recover_after` seconds without a 429 the rate climbs back by a step of the nominal
rate (additive increase, multiplicative decrease)."""
import logging

import gevent

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
        if self.slowed:
            self._recover(now)
        slot = max(self._next_slot, now - (self.burst - 1) / self.rate)
        self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            gevent.sleep(slot - now)

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
