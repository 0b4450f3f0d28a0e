import pytest

from actors.state import UserRecord
from storage import keys
from storage.store import CLAIM_PENDING, CLAIM_SENT, CLAIM_WON, Conflict, connect

DAY = "2026-11-27"


def test_heroku_rediss_urls_accept_a_self_signed_certificate():
    pool = connect("rediss://:secret@127.0.0.1:6380/0").connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["ssl_cert_reqs"] is None


def new_user(store):
    record = UserRecord("U1", hour=7, minute=30, due=1.0)
    store.save(record)
    return record


def test_a_push_attempt_is_claimed_once_and_remembered_once_shown(store, redis_client):
    record = new_user(store)
    assert store.save_and_claim(record, DAY, 0, lease_seconds=30) == (CLAIM_WON, 0)
    other_process = store.load("U1")
    status, lease_left = store.save_and_claim(other_process, DAY, 0, lease_seconds=30)
    assert status == CLAIM_PENDING and 29 < lease_left <= 30
    store.confirm_and_save(other_process, DAY, 0)
    assert redis_client.get(keys.push_claim("U1", DAY, 0)) == b"sent"
    assert store.save_and_claim(other_process, DAY, 0, lease_seconds=30) == (CLAIM_SENT, 0)
    assert store.save_and_claim(other_process, DAY, 1, lease_seconds=30) == (CLAIM_WON, 0)


def test_a_decision_on_a_stale_record_is_refused_and_claims_nothing(store, redis_client):
    record = new_user(store)
    stale = store.load("U1")
    store.save(record)
    with pytest.raises(Conflict):
        store.save_and_claim(stale, DAY, 0, lease_seconds=30)
    assert redis_client.get(keys.push_claim("U1", DAY, 0)) is None
    with pytest.raises(Conflict):
        store.save(stale)
    # A push that went out is remembered even when the record moved on meanwhile.
    with pytest.raises(Conflict):
        store.confirm_and_save(stale, DAY, 3)
    assert redis_client.get(keys.push_claim("U1", DAY, 3)) == b"sent"


def test_webhook_events_are_first_delivered_once(store):
    assert store.first_delivery("01JEVENT")
    assert not store.first_delivery("01JEVENT")
