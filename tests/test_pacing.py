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


def fake_clock(monkeypatch, start=0.0):
    clock = [start]
    monkeypatch.setattr(pacing, "_monotonic", lambda: clock[0])
    monkeypatch.setattr(gevent, "sleep", lambda seconds: None)
    return clock


def test_a_rate_limit_halves_the_rate_once_per_interval(monkeypatch):
    clock = fake_clock(monkeypatch)
    limiter = RateLimiter(rate=1000, cut_interval=1.0)
    assert limiter.slow_down()
    assert limiter.rate == 500
    clock[0] += 0.5
    assert not limiter.slow_down()  # the same storm, seen by another in-flight push
    assert limiter.rate == 500
    clock[0] += 0.6
    assert limiter.slow_down()
    assert limiter.rate == 250
    assert limiter.burst == 12  # 50 at 1000/s, scaled with the rate


def test_the_rate_never_drops_below_the_floor(monkeypatch):
    clock = fake_clock(monkeypatch)
    limiter = RateLimiter(rate=10, min_rate=2, cut_interval=1.0)
    for _ in range(10):
        limiter.slow_down()
        clock[0] += 1.0
    assert limiter.rate == 2
    assert limiter.burst == 1


def test_the_rate_climbs_back_step_by_step_after_quiet_periods(monkeypatch):
    clock = fake_clock(monkeypatch)
    limiter = RateLimiter(rate=800, recover_after=5.0, recover_steps=8)
    limiter.slow_down()
    assert limiter.rate == 400
    seen = []
    for _ in range(6):
        clock[0] += 5.0
        limiter.take()
        seen.append(limiter.rate)
    assert seen == [500, 600, 700, 800, 800, 800]
    assert not limiter.slowed


def test_a_new_rate_limit_restarts_the_quiet_period(monkeypatch):
    clock = fake_clock(monkeypatch)
    limiter = RateLimiter(rate=800, recover_after=5.0, recover_steps=8, cut_interval=1.0)
    limiter.slow_down()
    clock[0] += 4.0
    limiter.slow_down()          # a new storm 4 s later: halved again, quiet period restarts
    assert limiter.rate == 200
    clock[0] += 4.0
    limiter.take()
    assert limiter.rate == 200   # only 4 quiet seconds so far
    clock[0] += 1.0
    limiter.take()
    assert limiter.rate == 300


def test_a_slowed_limiter_spaces_sends_at_the_lower_rate(monkeypatch):
    clock = [100.0]
    slept = []
    monkeypatch.setattr(pacing, "_monotonic", lambda: clock[0])
    monkeypatch.setattr(gevent, "sleep", lambda seconds: slept.append(round(seconds, 6)))
    limiter = RateLimiter(rate=20, burst=2)
    limiter.slow_down()          # 10/s, burst 1
    for _ in range(3):
        limiter.take()
    assert slept == [0.1, 0.2]
