"""Paces sends under a rate, cooperatively (gevent): each caller reserves the next free slot,
so waiting senders go in arrival order and nobody polls."""
import time

import gevent


def _monotonic():
    # CLOCK_MONOTONIC directly: pacing is about real time towards LINE, even in tests that
    # freeze the wall clock (freezegun patches time.monotonic).
    return time.clock_gettime(time.CLOCK_MONOTONIC)


class RateLimiter:
    def __init__(self, rate: float, burst: int = None):
        self.rate = float(rate)
        self.burst = burst if burst is not None else max(1, int(rate / 20))
        self._next_slot = float("-inf")

    def take(self) -> None:
        """Wait for this caller's slot. Up to `burst` calls may go at once after a quiet spell."""
        now = _monotonic()
        slot = max(self._next_slot, now - (self.burst - 1) / self.rate)
        self._next_slot = slot + 1.0 / self.rate
        if slot > now:
            gevent.sleep(slot - now)

    def set_rate(self, rate: float) -> None:
        self.rate = float(rate)
