"""Watch codes and links across two people's slots (storage/watches.py): redeeming and ending a
watch go in steps of one slot each, and a process that dies between any two of them leaves
nothing half promised: whoever is in a person's watchers (whom their alerts go to) has that
person in their watching set (so they can end it), and what a crash leaves behind is finished
or cleared by the next try. On one Redis and on a Redis Cluster, with the two people in two
shards."""
import pytest

from storage import keys
from storage.watches import Redeem, Redeemed
from tests.conftest import on_one_redis_and_a_cluster

redis_client = on_one_redis_and_a_cluster()

_CLUSTER = keys.Layout(keys.CLUSTER_SHARDS)
NOW = 1795734000.0
OWNER = "U" + "0" * 31 + "1"
# Watchers in shards other than the owner's (and one another's) on the cluster.
WATCHER, SECOND, THIRD, FOURTH = [
    user for user in (f"U{n:032x}" for n in range(2, 200))
    if _CLUSTER.shard_of(user) != _CLUSTER.shard_of(OWNER)][:4]


class Crash(Exception):
    """The process died here: nothing after this step ran."""


def crash_at(monkeypatch, watches, step):
    def die(*args, **kwargs):
        raise Crash(step)
    monkeypatch.setattr(watches, step, die)


def links(watches, *people):
    """{person: (watchers, watching)} as stored."""
    return {person: (watches.watchers(person), watches.watching(person)) for person in people}


def since(store, watcher):
    """When each watch of `watcher` began, as stored: {person watched: epoch s}."""
    return {owner.decode(): float(at) for owner, at in
            store.redis.hgetall(store.keys.watching_since(watcher)).items()}


def assert_nothing_half_promised(watches, *people):
    for person in people:
        for watcher in watches.watchers(person):
            assert person in watches.watching(watcher), (person, watcher)


def test_the_people_are_in_different_slots_on_the_cluster(store):
    if store.keys.cluster:
        assert len({store.keys.shard_of(user) for user in (OWNER, WATCHER, SECOND)}) == 3
    assert store.keys.code_shard(store.watches.new_code(OWNER)) == store.keys.shard_of(OWNER)


def test_a_redeem_in_steps_links_both_ways_and_uses_the_code(store):
    watches = store.watches
    code = watches.new_code(OWNER)
    assert watches.redeem(code, WATCHER, NOW) == Redeemed(Redeem.STARTED, OWNER)
    assert links(watches, OWNER, WATCHER) == {OWNER: ([WATCHER], []), WATCHER: ([], [OWNER])}
    assert since(store, WATCHER) == {OWNER: NOW}         # in the watcher's slot, step 1
    assert store.redis.get(store.keys.watch_code(code)) is None
    assert store.redis.get(store.keys.watch_code_of(OWNER)) is None
    assert watches.redeem(code, SECOND, NOW).status is Redeem.UNKNOWN


def test_the_code_of_someone_watched_already_is_left_usable_and_the_watch_as_it_began(store):
    watches = store.watches
    watches.redeem(watches.new_code(OWNER), WATCHER, NOW)
    code = watches.new_code(OWNER)
    assert watches.redeem(code, WATCHER, NOW + 60) == Redeemed(Redeem.ALREADY, OWNER)
    assert store.redis.get(store.keys.watch_code(code)).decode() == OWNER   # not used up
    assert store.redis.get(store.keys.watch_failures(WATCHER)) is None      # not a wrong one
    assert since(store, WATCHER) == {OWNER: NOW}
    assert links(watches, OWNER, WATCHER) == {OWNER: ([WATCHER], []), WATCHER: ([], [OWNER])}
    assert watches.redeem(code, SECOND, NOW + 60) == Redeemed(Redeem.STARTED, OWNER)


def test_whom_a_watcher_watches_comes_in_the_order_the_watches_began(store):
    watches = store.watches
    owners = sorted([OWNER, SECOND, THIRD], reverse=True)  # begun against the order of ids
    for n, owner in enumerate(owners):
        watches.redeem(watches.new_code(owner), FOURTH, NOW + n)
    assert watches.watching(FOURTH) == owners
    watches.end_watchers_of(owners[1])
    assert watches.watching(FOURTH) == [owners[0], owners[2]]
    assert since(store, FOURTH) == {owners[0]: NOW, owners[2]: NOW + 2}


def test_a_crash_between_the_senders_step_and_the_owners_leaves_no_watch_and_the_code(
        store, monkeypatch):
    watches = store.watches
    code = watches.new_code(OWNER)
    crash_at(monkeypatch, watches, "_commit")
    with pytest.raises(Crash):
        watches.redeem(code, WATCHER, NOW)
    assert watches.watchers(OWNER) == []                 # no alert goes to the watcher
    assert watches.watching(WATCHER) == [OWNER]          # the way back, ahead of the link
    assert store.redis.get(store.keys.watch_code(code)).decode() == OWNER   # still good
    assert_nothing_half_promised(watches, OWNER, WATCHER)
    monkeypatch.undo()
    assert watches.redeem(code, WATCHER, NOW + 60) == Redeemed(Redeem.STARTED, OWNER)  # again
    assert links(watches, OWNER, WATCHER) == {OWNER: ([WATCHER], []), WATCHER: ([], [OWNER])}
    assert since(store, WATCHER) == {OWNER: NOW}         # the watch dates from the first try


def test_a_crash_after_the_owners_step_refused_leaves_a_way_back_that_promises_nothing(
        store, monkeypatch):
    watches = store.watches
    for watcher in (SECOND, THIRD, FOURTH):
        watches.redeem(watches.new_code(OWNER), watcher, NOW)
    code = watches.new_code(OWNER)
    crash_at(monkeypatch, watches, "_withdraw")
    with pytest.raises(Crash):                           # refused: full; then died
        watches.redeem(code, WATCHER, NOW)
    assert WATCHER not in watches.watchers(OWNER)
    assert watches.watching(WATCHER) == [OWNER]
    assert_nothing_half_promised(watches, OWNER, WATCHER)
    monkeypatch.undo()
    # Ending the watches clears it, and tells nobody: there was no watch.
    assert watches.end_watching_by(WATCHER) == []
    assert links(watches, WATCHER) == {WATCHER: ([], [])}
    assert since(store, WATCHER) == {}
    assert sorted(watches.watchers(OWNER)) == sorted([SECOND, THIRD, FOURTH])


def test_a_refused_redeem_undoes_its_first_step(store):
    watches = store.watches
    for watcher in (SECOND, THIRD, FOURTH):
        watches.redeem(watches.new_code(OWNER), watcher, NOW)
    assert watches.redeem(watches.new_code(OWNER), WATCHER, NOW) == Redeemed(Redeem.FULL, OWNER)
    assert watches.watching(WATCHER) == [] and since(store, WATCHER) == {}
    # One already watching sends another code of the same owner: their link stays, and
    # step 1 added nothing for the owner's refusal to undo.
    assert watches.redeem(watches.new_code(OWNER), SECOND, NOW).status is Redeem.ALREADY
    assert watches.watching(SECOND) == [OWNER] and SECOND in watches.watchers(OWNER)
    assert since(store, SECOND) == {OWNER: NOW}


@pytest.mark.parametrize("ending", ["end_watchers_of", "end_watching_by"])
def test_a_crash_between_the_two_steps_of_ending_a_watch_stops_the_alerts(
        store, monkeypatch, ending):
    watches = store.watches
    watches.redeem(watches.new_code(OWNER), WATCHER, NOW)
    watches.redeem(watches.new_code(OWNER), SECOND, NOW)
    crash_at(monkeypatch, watches, "_leave_watching")
    who = OWNER if ending == "end_watchers_of" else WATCHER
    with pytest.raises(Crash):
        getattr(watches, ending)(who)
    # The promise ended first: no alert goes where the watch was ended.
    assert WATCHER not in watches.watchers(OWNER)
    assert OWNER in watches.watching(WATCHER)            # the way back, cleared next time
    assert since(store, WATCHER) == {OWNER: NOW}         # with its start time
    assert_nothing_half_promised(watches, OWNER, WATCHER, SECOND)
    monkeypatch.undo()
    assert getattr(watches, ending)(who) == []           # again: nobody told twice
    assert watches.end_watching_by(WATCHER) == []
    assert links(watches, WATCHER) == {WATCHER: ([], [])}
    assert since(store, WATCHER) == {}
    # The owner ending their watches ended SECOND's too; the watcher ending theirs did not.
    assert watches.watchers(OWNER) == ([] if who == OWNER else [SECOND])
    assert_nothing_half_promised(watches, OWNER, WATCHER, SECOND)


def test_forgetting_a_person_ends_both_sides_of_every_watch(store):
    watches = store.watches
    watches.redeem(watches.new_code(OWNER), WATCHER, NOW)
    watches.redeem(watches.new_code(WATCHER), SECOND, NOW)   # the watcher is watched too
    code = watches.new_code(WATCHER)
    assert watches.forget(WATCHER) == ([SECOND], [OWNER])
    assert links(watches, OWNER, WATCHER, SECOND) == {
        OWNER: ([], []), WATCHER: ([], []), SECOND: ([], [])}
    assert since(store, WATCHER) == since(store, SECOND) == {}
    assert store.redis.get(store.keys.watch_code(code)) is None
