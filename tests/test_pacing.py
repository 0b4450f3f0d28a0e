import gevent
import pytest

from outbox import pacing
from outbox.pacing import RateLimiter, SendWindow, SharedPace


class FakeTime:
    """The limiter's monotonic clock, and every sleep it asks for (recorded, not slept)."""

    def __init__(self, monkeypatch, start=100.0):
        self.now = start
        self.slept = []
        monkeypatch.setattr(pacing, "_monotonic", lambda: self.now)
        monkeypatch.setattr(gevent, "sleep", lambda seconds: self.slept.append(round(seconds, 6)))


@pytest.fixture
def fake(monkeypatch):
    return FakeTime(monkeypatch)


@pytest.fixture
def passing(fake, monkeypatch):
    """FakeTime whose sleeps let the time pass (still recorded, never slept)."""
    def sleep(seconds):
        fake.slept.append(round(seconds, 6))
        fake.now += seconds

    monkeypatch.setattr(gevent, "sleep", sleep)
    return fake


def test_reservations_are_spaced_by_the_rate(fake):
    limiter = RateLimiter(rate=10, burst=2)
    for _ in range(5):
        limiter.take()
    # Two go at once (the burst), then one every 0.1 s, in arrival order.
    assert fake.slept == [0.1, 0.2, 0.3][:len(fake.slept)]
    assert len(fake.slept) == 3


def test_a_quiet_spell_restores_the_burst(fake):
    limiter = RateLimiter(rate=10, burst=3)
    for _ in range(3):
        limiter.take()
    fake.now += 60.0
    for _ in range(3):
        limiter.take()
    assert fake.slept == []


def test_a_rate_limit_halves_the_rate_once_per_interval(fake):
    limiter = RateLimiter(rate=1000, cut_interval=1.0)
    assert limiter.slow_down()
    assert limiter.rate == 500
    fake.now += 0.5
    assert not limiter.slow_down()  # the same storm, seen by another in-flight push
    assert limiter.rate == 500
    fake.now += 0.6
    assert limiter.slow_down()
    assert limiter.rate == 250
    assert limiter.burst == 12  # 50 at 1000/s, scaled with the rate


def test_the_rate_never_drops_below_the_floor(fake):
    limiter = RateLimiter(rate=10, min_rate=2, cut_interval=1.0)
    for _ in range(10):
        limiter.slow_down()
        fake.now += 1.0
    assert limiter.rate == 2
    assert limiter.burst == 1


def test_the_rate_climbs_back_step_by_step_after_quiet_periods(fake):
    limiter = RateLimiter(rate=800, recover_after=5.0, recover_steps=8)
    limiter.slow_down()
    assert limiter.rate == 400
    seen = []
    for _ in range(6):
        fake.now += 5.0
        limiter.take()
        seen.append(limiter.rate)
    assert seen == [500, 600, 700, 800, 800, 800]
    assert not limiter.slowed


def test_a_new_rate_limit_restarts_the_quiet_period(fake):
    limiter = RateLimiter(rate=800, recover_after=5.0, recover_steps=8, cut_interval=1.0)
    limiter.slow_down()
    fake.now += 4.0
    limiter.slow_down()          # a new storm 4 s later: halved again, quiet period restarts
    assert limiter.rate == 200
    fake.now += 4.0
    limiter.take()
    assert limiter.rate == 200   # only 4 quiet seconds so far
    fake.now += 1.0
    limiter.take()
    assert limiter.rate == 300


def test_a_slowed_limiter_spaces_sends_at_the_lower_rate(fake):
    limiter = RateLimiter(rate=20, burst=2)
    limiter.slow_down()          # 10/s, burst 1
    for _ in range(3):
        limiter.take()
    assert fake.slept == [0.1, 0.2]


def test_try_take_takes_a_free_slot_and_never_waits(fake):
    limiter = RateLimiter(rate=10, burst=2)
    assert [limiter.try_take() for _ in range(3)] == [True, True, False]
    fake.now += 0.1
    assert limiter.try_take()
    assert fake.slept == []


def taken_in_order(pace, lanes):
    """Spawn one taker per lane name in `lanes`, in that order; the names in the order their
    slots were handed out."""
    order = []

    def take(name):
        getattr(pace, name).take()
        order.append(name)

    gevent.joinall([gevent.spawn(take, name) for name in lanes])
    return order


def test_a_burst_of_pushes_queued_first_does_not_hold_replies_back(passing):
    pace = SharedPace(RateLimiter(rate=10, burst=1), first_turns=3)
    order = taken_in_order(pace, ["second"] * 6 + ["first"] * 5)
    # The first push finds the slot free; then replies take 3 slots for each push's one.
    assert order == ["second"] + ["first"] * 3 + ["second"] + ["first"] * 2 + ["second"] * 4
    assert passing.slept == [0.1] * 10  # one slot of the rate each


def test_a_flood_of_replies_leaves_pushes_their_turns(passing):
    pace = SharedPace(RateLimiter(rate=10, burst=1), first_turns=3)
    order = taken_in_order(pace, ["first"] * 10 + ["second"] * 2)
    assert order == (["first"] * 4 + ["second"] + ["first"] * 3 + ["second"]
                     + ["first"] * 3)


def test_the_send_window_holds_a_request_that_would_make_one_too_many_in_a_second(passing):
    window = SendWindow(limit=3)
    for _ in range(3):
        window.wait_turn()
    passing.now += 0.25
    window.wait_turn()            # a fourth within the second waits for the first to age
    assert passing.slept == [0.75]
    passing.now += 0.5
    window.wait_turn()            # the second and third are a second old now too: at once
    assert passing.slept == [0.75]


def test_the_hand_out_wakes_once_for_the_slots_due_meanwhile(passing, monkeypatch):
    monkeypatch.setattr(SharedPace, "TICK_SECONDS", 0.25)
    # 16/s, and a burst that covers a tick (4 slots after a pause): the first 5 at once, then
    # the other 8 queued, 4 slots a wake rather than one wake a slot.
    pace = SharedPace(RateLimiter(rate=16, burst=5), first_turns=3)
    taken_in_order(pace, ["first"] * 13)
    assert passing.slept == [0.25, 0.25]
