"""Two processes on one Redis (a Heroku deploy: the new dyno starts before the old one stops),
driven by one manual clock, with the interleavings of their asks forced one by one."""
import gevent
import pytest
from gevent.event import Event

from chat import texts
from tests.conftest import WHOLE_DAY
from domain.rounds import LOOK_AGAIN_SECONDS as PENDING_RECHECK_SECONDS
from tests.support import (
    advance_together, asks_seen_once, let_the_dead_senders_lease_run_out, send_statuses,
)

DUE = 10 * 60  # the user's 6:10 is ten minutes after the test's 06:00


def two_processes(make_bot, user_id, **settings):
    old = make_bot(**settings)
    old.say(user_id, "6時10分")
    new = make_bot(**settings)            # restores the user too
    return old, new


def both(*bots):
    return [bot.timer for bot in bots]


def hold(owner, name, until: Event, then: Event = None):
    """owner.name waits for `until` before it runs; `then` is set once it has run."""
    real = getattr(owner, name)

    def held(*args, **kwargs):
        until.wait()
        try:
            return real(*args, **kwargs)
        finally:
            if then is not None:
                then.set()

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


@pytest.mark.parametrize("claimer", ["old", "new"])
def test_one_claims_the_other_looks_then_the_claimer_saves(make_bot, user_id, claimer):
    old, new = two_processes(make_bot, user_id)
    first, second = (old, new) if claimer == "old" else (new, old)
    claimed, looked = Event(), Event()
    signal_after(first.store, "claim_batch", claimed)
    hold(second.store, "claim_batch", until=claimed, then=looked)
    hold(first.outbox, "push", until=looked)       # the look lands while the ask is in flight
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
    claimed, died = Event(), Event()
    signal_after(old.store, "claim_batch", claimed)
    hold(new.store, "claim_batch", until=claimed)

    def die(*args, **kwargs):                   # as SIGKILL would: nothing after this runs
        died.set()
        raise gevent.GreenletExit

    old.outbox.push = die
    start = old.timer.now()
    old.timer._move_to(start + DUE)
    old.timer._wake_due()
    new.timer._wake_due()
    assert died.wait(5)
    old.kill()
    advance_together(both(new), 3)              # the dead one's lease still runs
    assert new.pushes(user_id) == []
    let_the_dead_senders_lease_run_out(new)     # (leases run on Redis's real clock)
    advance_together(both(new), 3 * 3600)
    asks = new.pushes(user_id)
    assert [ask.texts[0] for ask in asks] == WHOLE_DAY
    assert asks[0].at - (start + DUE) <= 3 + PENDING_RECHECK_SECONDS + 0.1
    assert new.gaps(user_id) == [600] * 10
    assert send_statuses(new.platform) == [200] * 11   # the dead one never reached LINE
