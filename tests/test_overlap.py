"""Two processes on one Redis (a Heroku deploy: the new dyno starts before the old one stops),
driven by one manual clock, with the interleavings of their asks forced one by one."""
import gevent
import pytest
from gevent.event import Event

from chat import texts
from storage import keys
from tests.conftest import WHOLE_DAY
from tests.support import (
    advance_together, asks_seen_once, send_statuses,
)

DUE = 10 * 60  # the user's 6:10 is ten minutes after the test's 06:00


def two_processes(make_bot, user_id, **settings):
    old = make_bot(**settings)
    old.say(user_id, "6時10分")
    new = make_bot(**settings)            # restores the user too
    return old, new


def both(*bots):
    return [bot.timer for bot in bots]


def hold(owner, name, until: Event):
    """owner.name waits for `until` before it runs."""
    real = getattr(owner, name)

    def held(*args, **kwargs):
        until.wait()
        return real(*args, **kwargs)

    setattr(owner, name, held)


def signal_after(owner, name, event: Event):
    """`event` is set each time owner.name has returned."""
    real = getattr(owner, name)

    def tracked(*args, **kwargs):
        try:
            return real(*args, **kwargs)
        finally:
            event.set()

    setattr(owner, name, tracked)


def start_the_round_in(bot, start):
    """Move the shared clock to the user's 6:10 and run only `bot`'s due work."""
    bot.timer._move_to(start + DUE)
    bot.timer._wake_due()


@pytest.mark.parametrize("claimer", ["old", "new"])
def test_one_claims_the_other_looks_then_the_claimer_saves(make_bot, user_id, claimer):
    # One process holds a due user for a lease; the other looks at them only when that runs
    # out with the ask still in flight: force exactly that.
    old, new = two_processes(make_bot, user_id)
    first, second = (old, new) if claimer == "old" else (new, old)
    looked = Event()
    signal_after(second.store.batches, "claim", looked)
    hold(first.outbox, "push", until=looked)       # the look lands while the ask is in flight
    start_the_round_in(first, first.timer.now())
    advance_together(both(second), first.settings.due_lease_seconds + 1)
    assert looked.is_set()
    advance_together(both(old, new), 3 * 3600)
    assert old.pushed_texts(user_id) == WHOLE_DAY
    assert old.gaps(user_id) == [600] * 10          # no ask waits for the other's lease
    assert asks_seen_once(old)


@pytest.mark.parametrize("answered_by", ["old", "new"])
def test_an_answer_to_either_process_stops_both(make_bot, user_id, answered_by):
    old, new = two_processes(make_bot, user_id)
    advance_together(both(old, new), DUE + 600)     # the first ask and one re-ask
    (old if answered_by == "old" else new).say(user_id, "飲んだ")
    assert old.last_reply(user_id) == (texts.WELL_DONE,)
    advance_together(both(old, new), 3 * 3600)
    assert old.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]


@pytest.mark.parametrize("survivor", ["old", "new"])
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_after_one_process_goes_the_other_carries_on_on_time(make_bot, user_id, survivor,
                                                             how):
    old, new = two_processes(make_bot, user_id)
    staying, going = (old, new) if survivor == "old" else (new, old)
    advance_together(both(old, new), DUE + 600 + 300)   # two asks, then half a snooze
    getattr(going, how)()
    advance_together(both(staying), 3 * 3600)
    assert old.pushed_texts(user_id) == WHOLE_DAY
    assert old.gaps(user_id) == [600] * 10
    staying.say(user_id, "飲んだ")                         # late, but it counts
    assert staying.last_reply(user_id) == (texts.WELL_DONE,)


def test_a_process_that_dies_between_claim_and_send_is_covered_after_its_lease(make_bot,
                                                                             user_id):
    old, new = two_processes(make_bot, user_id)
    died = Event()

    def die(*args, **kwargs):                   # as SIGKILL would: nothing after this runs
        died.set()
        raise gevent.GreenletExit

    old.outbox.push = die
    start = old.timer.now()
    start_the_round_in(old, start)
    assert died.wait(5)
    dead = old.system.token
    old.kill()
    old.store.redis.delete(keys.ONE_REDIS.alive(dead))    # its heartbeat runs out (on Redis's clock)
    advance_together(both(new), 3 * 3600)
    asks = new.pushes(user_id)
    assert [ask.texts[0] for ask in asks] == WHOLE_DAY
    # The user was the dead one's for its lease on them: then the other resent the claimed
    # ask (same retry key) without waiting for the ask's own lease.
    assert asks[0].at - (start + DUE) <= new.settings.due_lease_seconds + 0.1
    assert new.gaps(user_id) == [600] * 10
    assert send_statuses(new.platform) == [200] * 11   # the dead one never reached LINE
