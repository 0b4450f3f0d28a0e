import gevent

from outbox import pacing
from outbox.pacing import RateLimiter


def test_reservations_are_spaced_by_the_rate(monkeypatch):
    clock = [100.0]
    slept = []
    monkeypatch.setattr(pacing, "_monotonic", lambda: clock[0])
    monkeypatch.setattr(gevent, "sleep", lambda seconds: slept.append(round(seconds, 6)))
    limiter = RateLimiter(rate=10, burst=2)
    for _ in range(5):
        limiter.take()
    # Two go at once (the burst), then one every 0.1 s, in arrival order.
    assert slept == [0.1, 0.2, 0.3][:len(slept)]
    assert len(slept) == 3


def test_a_quiet_spell_restores_the_burst(monkeypatch):
    clock = [0.0]
    slept = []
    monkeypatch.setattr(pacing, "_monotonic", lambda: clock[0])
    monkeypatch.setattr(gevent, "sleep", lambda seconds: slept.append(seconds))
    limiter = RateLimiter(rate=10, burst=3)
    for _ in range(3):
        limiter.take()
    clock[0] = 60.0
    for _ in range(3):
        limiter.take()
    assert slept == []
