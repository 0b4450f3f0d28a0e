from storage.store import CLAIM_PENDING, CLAIM_SENT, CLAIM_WON, connect


def test_heroku_rediss_urls_accept_a_self_signed_certificate():
    pool = connect("rediss://:secret@127.0.0.1:6380/0").connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["ssl_cert_reqs"] is None


def test_a_push_attempt_is_claimed_once(store):
    assert store.claim_push("U1", "2026-11-27", 0, lease_seconds=30) == (CLAIM_WON, 0)
    status, lease_left = store.claim_push("U1", "2026-11-27", 0, lease_seconds=30)
    assert status == CLAIM_PENDING and 29 < lease_left <= 30
    store.confirm_push("U1", "2026-11-27", 0)
    assert store.claim_push("U1", "2026-11-27", 0, lease_seconds=30) == (CLAIM_SENT, 0)
    assert store.claim_push("U1", "2026-11-27", 1, lease_seconds=30) == (CLAIM_WON, 0)


def test_webhook_events_are_first_delivered_once(store):
    assert store.first_delivery("01JEVENT")
    assert not store.first_delivery("01JEVENT")
