"""The exactly-once protocol for asks (storage/batches.py) on a real Redis and on a Redis
Cluster: claim, take over, finish."""
import itertools
import os
import signal

import orjson

from domain.rounds import Dose, RoundState
from domain.user import UserRecord
from storage import keys
from storage.batches import AskKey, Claim, ClaimStatus, Taken, TakeStatus
from storage.store import Store
from storage.users import Conflict
from tests.conftest import on_one_redis_and_a_cluster

import pytest

redis_client = on_one_redis_and_a_cluster()

DAY = "2026-11-27"
AT = 1795734000.0   # 2026-11-27 08:00 in Tokyo: the round's id
WON, CONFLICT = ClaimStatus.WON, ClaimStatus.CONFLICT
# A batch's users share a shard: U2 is in U1's on the cluster too.
_CLUSTER = keys.Layout(keys.CLUSTER_SHARDS)
U2 = next(f"U{n}" for n in itertools.count(2) if _CLUSTER.shard_of(f"U{n}") == _CLUSTER.shard_of("U1"))


def shard(store):
    """The shard of U1 (and U2): their batches' keys are there."""
    return store.keys.shard_of("U1")


def new_user(store, user_id="U1"):
    return store.users.save(UserRecord(user_id, (Dose(8, 0, due=AT),)))


def started(record):
    """The record with its round started, as the asker claims it."""
    [dose] = record.doses
    return record.with_dose(dose, dose._replace(state=RoundState.ASKING, at=AT, day=DAY))


def claim(store, batch_id, *records, attempt=0, round_at=AT):
    return store.batches.claim(batch_id, AskKey(attempt, round_at), list(records),
                               lease_seconds=30, unhandled_since=AT)


def statuses(claims):
    return [c.status if c.status is not ClaimStatus.CLAIMED else c for c in claims]


def test_an_ask_is_claimed_by_one_batch_and_found_sent_once_line_took_it(store, redis_client):
    record = new_user(store)
    store.processes.heartbeat(store.token, 30)        # the claiming process is alive
    [won] = claim(store, "batch-1", started(record))
    assert won.status is WON
    assert orjson.loads(redis_client.get(store.keys.batch(shard(store), "batch-1"))) == {
        "to": ["U1"], "attempt": 0, "round": int(AT)}
    other_process = Store(redis_client, token="p2")
    assert statuses(claim(other_process, "batch-2", won.record)) == [
        Claim(ClaimStatus.CLAIMED, batch_id="batch-1")]
    assert redis_client.get(store.keys.batch(shard(store), "batch-2")) is None   # nobody won: no batch stored
    taken = other_process.batches.take("batch-1", 30, shard(store))
    assert taken.status is TakeStatus.HELD and 29 < taken.lease_left <= 30
    store.batches.finish("batch-1", True, shard(store))
    assert other_process.batches.take("batch-1", 30, shard(store)) == Taken(TakeStatus.SENT)
    assert statuses(claim(store, "batch-4", won.record, attempt=1)) == [WON]


def test_a_first_asks_claim_saves_the_round_started_and_only_the_winners(store):
    asked, changed = new_user(store), new_user(store, U2)
    store.users.save(changed)                   # another process wrote U2 meanwhile
    claims = claim(store, "batch-1", started(asked), started(changed))
    assert statuses(claims) == [WON, CONFLICT]
    stored = store.users.load("U1")             # an answer from now on finds it open
    assert stored.doses[0].is_open and stored == claims[0].record
    assert stored.version == 2
    assert not store.users.load(U2).doses[0].is_open
    saved = store.users.save(claims[0].record)  # the asker's save follows the claim's version
    [reask] = claim(store, "batch-2", saved, attempt=1)
    assert reask.record == saved and store.users.load("U1").version == 3  # no write


def test_an_ask_waits_for_a_message_still_to_be_handled_but_not_for_one_left_behind(store):
    asked, other = new_user(store), new_user(store, U2)
    store.events.take_in("E1", "U1", ["ShowHelp", "t"], AT)       # said at 8:00, in hand
    claims = claim(store, "batch-1", started(asked), started(other))
    assert statuses(claims) == [ClaimStatus.UNHANDLED, WON]      # nothing claimed for U1
    assert not store.users.load("U1").doses[0].is_open
    # Still not handled a minute on (its finish lost, say): it holds the ask back no more.
    [won] = store.batches.claim("batch-2", AskKey(0, AT), [started(asked)], lease_seconds=30,
                                unhandled_since=AT + 1)
    assert won.status is WON
    store.events.take_in("E2", U2, ["ShowHelp", "t"], AT)
    store.events.finish("E2", U2)                                  # handled: nothing held
    store.pipeliner.call(lambda pipe: pipe.ping(), store.keys.unhandled(U2))  # (sent behind it)
    assert statuses(claim(store, "batch-3", claims[1].record, attempt=1)) == [WON]


def test_an_unconfirmed_batch_is_resent_whole_with_its_own_key(store, redis_client):
    first, second = new_user(store), new_user(store, U2)
    claims = claim(store, "batch-1", first, second)
    assert statuses(claims) == [WON, WON]
    redis_client.delete(store.keys.batch_lease(shard(store), "batch-1"))  # the sender died; its lease ran out
    assert statuses(claim(store, "batch-2", claims[1].record)) == [
        Claim(ClaimStatus.CLAIMED, batch_id="batch-1")]
    assert store.batches.take("batch-1", 30, shard(store)) == Taken(
        TakeStatus.TAKEN, body={"to": ["U1", U2], "attempt": 0, "round": int(AT)})
    another_process = Store(redis_client, token="p2")
    store.processes.heartbeat(store.token, 30)
    taken = another_process.batches.take("batch-1", 30, shard(store))
    assert taken.status is TakeStatus.HELD and 29 < taken.lease_left <= 30
    store.batches.finish("batch-1", True, shard(store))
    assert store.batches.take("batch-1", 30, shard(store)) == Taken(TakeStatus.SENT)


def test_a_batch_whose_sender_stopped_its_heartbeat_is_taken_before_its_lease_ends(
        store, redis_client):
    record = new_user(store)
    sender = Store(redis_client, token="sender")
    sender.processes.heartbeat("sender", 30)
    claim(sender, "batch-1", record)
    assert store.batches.take("batch-1", 30, shard(store)).status is TakeStatus.HELD
    redis_client.delete(store.keys.alive("sender"))         # its heartbeat ran out: it died
    assert store.batches.take("batch-1", 30, shard(store)).status is TakeStatus.TAKEN


def test_a_send_that_failed_leaves_the_batch_to_be_taken_at_once(store):
    record = new_user(store)
    claim(store, "batch-1", record)
    store.batches.finish("batch-1", False, shard(store))
    assert store.batches.take("batch-1", 30, shard(store)).status is TakeStatus.TAKEN


def test_a_batch_that_expired_is_gone(store, redis_client):
    claim(store, "batch-1", new_user(store))
    redis_client.delete(store.keys.batch(shard(store), "batch-1"), store.keys.batch_lease(shard(store), "batch-1"))
    assert store.batches.take("batch-1", 30, shard(store)) == Taken(TakeStatus.GONE)


def test_a_decision_on_a_stale_record_is_refused_and_claims_nothing(store, redis_client):
    stale = new_user(store)
    store.users.save(stale)
    fresh = UserRecord(U2, (Dose(8, 0, due=AT),))
    assert statuses(claim(store, "batch-1", stale, fresh)) == [CONFLICT, WON]
    assert redis_client.get(store.keys.ask_claim("U1", AT, 0)) is None
    assert orjson.loads(redis_client.get(store.keys.batch(shard(store), "batch-1")))["to"] == [U2]
    with pytest.raises(Conflict):
        store.users.save(stale)


def test_each_round_of_a_user_has_its_own_claims(store):
    record = new_user(store)
    [morning] = claim(store, "batch-1", record)
    [evening] = claim(store, "batch-2", morning.record, round_at=AT + 12 * 3600)
    assert morning.status is evening.status is WON


def test_on_a_cluster_an_ask_is_not_sent_before_the_replica_has_its_claim(
        store, redis_client, request):
    """A claim the master acknowledged is lost if the master dies before its replica has it:
    the next try would claim the ask afresh, under another retry key. So what the replica has
    not acknowledged is not sent; the next try takes the batch over, with its key."""
    if not store.keys.cluster:
        pytest.skip("one Redis has no replica to wait for")
    cluster = request.getfixturevalue("redis_cluster")
    record = new_user(store)
    master = cluster.master_serving(redis_client.keyslot(store.keys.user("U1")))
    replica = cluster.replica_of(master)
    os.kill(replica.process.pid, signal.SIGSTOP)    # connected, but acknowledging nothing
    try:
        assert statuses(claim(store, "batch-1", started(record))) == [
            Claim(ClaimStatus.CLAIMED, batch_id="batch-1")]          # claimed, not to send
        assert redis_client.get(store.keys.batch_lease(shard(store), "batch-1")) is None
        assert store.batches.take("batch-1", 30, shard(store)).status is TakeStatus.HELD
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    taken = store.batches.take("batch-1", 30, shard(store))          # the replica has it now
    assert taken == Taken(TakeStatus.TAKEN, body={"to": ["U1"], "attempt": 0,
                                                  "round": int(AT)})


def test_a_batch_this_process_is_still_sending_is_left_to_that_send(store):
    claim(store, "batch-1", new_user(store))    # claimed by this process, send under way
    taken = store.batches.take("batch-1", 30, shard(store))
    assert taken.status is TakeStatus.HELD and 29 < taken.lease_left <= 30
