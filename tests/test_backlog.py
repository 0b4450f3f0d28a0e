"""The replies owed (outbox/backlog.py): what the edge may promise, who waits for room, and
each reply's deadline."""
import gevent

from outbox.backlog import ReplyBacklog


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def backlog(replies_a_second=10.0, seconds=0.3, clock=None):
    """At 10 replies/s, 0.3 s of them: three may be owed at once."""
    return ReplyBacklog(lambda: replies_a_second, seconds=seconds, deadline=20.0,
                        clock=clock or FakeClock())


def test_replies_are_promised_up_to_the_limit_a_body_all_or_nothing():
    owed = backlog()
    assert owed.limit == 3
    assert owed.promise(["a", "b"])
    assert not owed.promise(["c", "d"])  # one too many: neither
    assert owed.promise(["c"])
    assert not owed.promise(["d"])
    assert owed.owed == 3


def test_a_body_larger_than_the_limit_is_taken_when_nothing_is_owed():
    owed = backlog()
    assert owed.promise(["a", "b", "c", "d", "e"])
    assert not owed.promise(["f"])


def test_a_promise_waits_for_room_and_the_first_to_wait_gets_it():
    owed = backlog()
    owed.promise(["a", "b", "c"])
    first = gevent.spawn(owed.promise, ["d"], wait=30)
    second = gevent.spawn(owed.promise, ["e"], wait=30)
    gevent.idle()  # both wait
    owed.settle("a")
    assert first.get() is True
    assert not second.ready()
    owed.settle("b")
    assert second.get() is True
    assert owed.owed == 3


def test_a_promise_given_up_leaves_no_trace():
    owed = backlog()
    owed.promise(["a", "b", "c"])
    assert owed.promise(["d"], wait=0.001) is False
    for token in "abc":
        owed.settle(token)
    assert owed.owed == 0
    assert owed.promise(["e", "f", "g"])   # the one that gave up holds no place


def test_a_reply_s_deadline_counts_from_its_promise():
    clock = FakeClock()
    owed = backlog(clock=clock)
    owed.promise(["a"])
    clock.now += 5
    assert owed.deadline("a") == 1020.0
    assert owed.deadline("never promised") == 1025.0
    owed.settle("a")
    owed.settle("a")                       # settling twice is harmless
    owed.settle(None)
    assert owed.owed == 0


def test_the_limit_follows_the_rate_the_outbox_can_send_now():
    rate = [10.0]
    owed = ReplyBacklog(lambda: rate[0], seconds=0.3, clock=FakeClock())
    owed.promise(["a", "b", "c"])
    rate[0] = 5.0                          # a 429 halved the pace
    for token in "ab":
        owed.settle(token)
    assert not owed.promise(["d"])         # one owed, a limit of one
    rate[0] = 10.0
    assert owed.promise(["d"])
