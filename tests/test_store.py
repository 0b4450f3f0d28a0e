import gevent
import orjson
import pytest
import redis as redis_py

from actors.state import UserRecord
from storage import keys
from storage.pipelining import Pipeliner
from storage.store import (
    BATCH_GONE, BATCH_TAKEN, CLAIM_CONFLICT, CLAIM_PENDING, CLAIM_RESEND, CLAIM_SENT, CLAIM_WON,
    BatchAnswer, Conflict, connect,
)

DAY = "2026-11-27"


def test_heroku_rediss_urls_accept_a_self_signed_certificate():
    pool = connect("rediss://:secret@127.0.0.1:6380/0").connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["ssl_cert_reqs"] is None


def new_user(store):
    record = UserRecord("U1", hour=7, minute=30, due=1.0)
    store.save(record)
    return record


def claim(store, batch_id, *records, attempt=0):
    return store.claim_batch(batch_id, attempt, [(record, DAY) for record in records],
                             lease_seconds=30)


def test_an_ask_is_claimed_by_one_batch_and_remembered_once_shown(store, redis_client):
    record = new_user(store)
    assert claim(store, "batch-1", record) == [BatchAnswer(CLAIM_WON)]
    assert orjson.loads(redis_client.get(keys.batch("batch-1"))) == {"to": ["U1"], "attempt": 0}
    other_process = store.load("U1")
    [pending] = claim(store, "batch-2", other_process)
    assert pending.status == CLAIM_PENDING and 29 < pending.lease_left <= 30
    assert redis_client.get(keys.batch("batch-2")) is None  # nobody won: no batch stored
    store.finish_batch("batch-1", shown=True)
    assert claim(store, "batch-3", other_process) == [BatchAnswer(CLAIM_SENT)]
    assert claim(store, "batch-4", other_process, attempt=1) == [BatchAnswer(CLAIM_WON)]


def test_an_unconfirmed_batch_is_resent_whole_with_its_own_key(store, redis_client):
    first, second = new_user(store), UserRecord("U2", hour=7, minute=30, due=1.0)
    store.save(second)
    assert claim(store, "batch-1", first, second) == [BatchAnswer(CLAIM_WON)] * 2
    redis_client.delete(keys.batch_lease("batch-1"))  # the sender died; its lease ran out
    again = store.load("U2")
    assert claim(store, "batch-2", again) == [BatchAnswer(CLAIM_RESEND, batch_id="batch-1")]
    status, body = store.take_batch("batch-1", lease_seconds=30)
    assert (status, body) == (BATCH_TAKEN, {"to": ["U1", "U2"], "attempt": 0})
    status, body = store.take_batch("batch-1", lease_seconds=30)
    assert status == CLAIM_PENDING and 29 < body["lease_left"] <= 30
    store.finish_batch("batch-1", shown=True)
    assert store.take_batch("batch-1", lease_seconds=30) == (CLAIM_SENT, None)
    assert claim(store, "batch-3", store.load("U1")) == [BatchAnswer(CLAIM_SENT)]


def test_a_send_that_failed_leaves_the_batch_to_be_resent(store, redis_client):
    record = new_user(store)
    claim(store, "batch-1", record)
    store.finish_batch("batch-1", shown=False)
    assert claim(store, "batch-2", record) == [BatchAnswer(CLAIM_RESEND, batch_id="batch-1")]


def test_a_claim_whose_batch_is_gone_is_claimed_afresh(store, redis_client):
    record = new_user(store)
    claim(store, "batch-1", record)
    redis_client.delete(keys.batch("batch-1"), keys.batch_lease("batch-1"))
    assert store.take_batch("batch-1", lease_seconds=30) == (BATCH_GONE, None)
    assert claim(store, "batch-2", record) == [BatchAnswer(CLAIM_WON)]


def test_a_decision_on_a_stale_record_is_refused_and_claims_nothing(store, redis_client):
    record, fresh = new_user(store), UserRecord("U2", hour=8, minute=0, due=1.0)
    stale = store.load("U1")
    store.save(record)
    answers = claim(store, "batch-1", stale, fresh)
    assert answers == [BatchAnswer(CLAIM_CONFLICT), BatchAnswer(CLAIM_WON)]
    assert redis_client.get(keys.push_claim("U1", DAY, 0)) is None
    assert orjson.loads(redis_client.get(keys.batch("batch-1")))["to"] == ["U2"]
    assert store.load("U2").version == fresh.version == 1
    with pytest.raises(Conflict):
        store.save(stale)


def test_saves_made_at_the_same_moment_each_get_their_own_answer(store):
    records = [UserRecord(f"U{n}", hour=7, minute=n) for n in range(50)]
    stale = UserRecord("U0", hour=9, minute=0)  # version 0, but U0 will exist by then

    def save(record):
        try:
            store.save(record)
            return "saved"
        except Conflict:
            return "conflict"

    results = [job.value for job in gevent.joinall(
        [gevent.spawn(save, record) for record in records] + [gevent.spawn(save, stale)])]
    assert results == ["saved"] * 50 + ["conflict"]
    assert [store.load(f"U{n}").minute for n in range(50)] == list(range(50))


def test_webhook_events_are_first_delivered_once(store):
    assert store.first_delivery("01JEVENT")
    assert not store.first_delivery("01JEVENT")


def test_an_error_in_one_pipelined_command_reaches_only_its_caller(redis_client):
    pipeliner = Pipeliner(redis_client)
    redis_client.set("text", "not a number")
    bad = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("text"))
    good = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("counter"))
    gevent.joinall([bad, good])
    assert isinstance(bad.exception, redis_py.ResponseError)
    assert good.value == 1
    alone = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("text"))
    alone.join()
    assert isinstance(alone.exception, redis_py.ResponseError)


def test_claims_written_by_the_one_push_per_user_version_are_respected(store, redis_client):
    """During a deploy the old process may still hold or have sent a user's ask."""
    record = new_user(store)
    redis_client.set(keys.push_claim("U1", DAY, 0), "pending", px=20_000)
    [held] = claim(store, "batch-1", record)
    assert held.status == CLAIM_PENDING and 19 < held.lease_left <= 20
    redis_client.set(keys.push_claim("U1", DAY, 0), "sent")
    assert claim(store, "batch-2", record) == [BatchAnswer(CLAIM_SENT)]
