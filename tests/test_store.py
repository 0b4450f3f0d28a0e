"""Users' records, the history (記録), the due index and webhook dedupe, on a real Redis and on
a Redis Cluster."""
from datetime import date

import gevent
import orjson
import pytest

from domain.days import Days
from domain.history import DayTally, TallyChange
from domain.rounds import Dose, RoundState
from domain.user import UserRecord
from domain.watch import Alert, AlertKind
from storage import history, lua, records, upgrade
from storage.store import Store, connect
from storage.users import Conflict
from tests.conftest import on_one_redis_and_a_cluster

redis_client = on_one_redis_and_a_cluster()

DAY = "2026-11-27"
AT = 1795734000.0   # 2026-11-27 08:00 in Tokyo: the round's id


def test_heroku_rediss_urls_accept_a_self_signed_certificate():
    pool = connect("rediss://:secret@127.0.0.1:6380/0").connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["ssl_cert_reqs"] is None


def test_the_start_check_connects_as_the_bot_does(redis_server, monkeypatch):
    import runtime
    used = []
    monkeypatch.setattr(runtime, "connect", lambda url, **options: used.append(url) or
                        connect(url, **options))
    runtime.check_redis(redis_server.url)       # answers: no refusal
    assert used == [redis_server.url]           # so a rediss:// URL gets Heroku's TLS too


def one_time(user_id="U1", **round_fields):
    return UserRecord(user_id, (Dose(8, 0, due=AT, **round_fields),))


# -- records: compare-and-set ----------------------------------------------------------------
def test_a_save_returns_the_record_as_saved_and_refuses_a_stale_one(store):
    saved = store.users.save(one_time())
    assert saved.version == 1 and store.users.load("U1") == saved
    again = store.users.save(saved._replace(tz="UTC"))
    assert again.version == 2
    with pytest.raises(Conflict):
        store.users.save(saved)                 # read before `again` was written
    assert store.users.load("U1") == again


def test_saves_made_at_the_same_moment_each_get_their_own_answer(store):
    users = [UserRecord(f"U{n}", (Dose(7, n),)) for n in range(50)]
    stale = UserRecord("U0", (Dose(9, 0),))  # version 0, but U0 will exist by then

    def save(record):
        try:
            store.users.save(record)
            return "saved"
        except Conflict:
            return "conflict"

    jobs = [gevent.spawn(save, record) for record in users] + [gevent.spawn(save, stale)]
    gevent.joinall(jobs)
    results = [job.value for job in jobs]
    assert results == ["saved"] * 50 + ["conflict"]
    assert [store.users.load(f"U{n}").doses[0].minute for n in range(50)] == list(range(50))


def test_save_many_saves_each_on_its_own(store):
    kept = store.users.save(one_time("U1"))
    store.users.save(kept)                      # U1 changes meanwhile
    saved = store.users.save_many([kept, one_time("U2")])
    assert saved.conflicts == ["U1"] and [r.user_id for r in saved.records] == ["U2"]
    assert saved.records[0].version == 1


# -- the stored shape -------------------------------------------------------------------------
def test_a_record_is_json_with_its_version_first_and_the_current_schema(store,
                                                                          redis_client):
    record = UserRecord("U1", (one_time(at=AT, day=DAY, state=RoundState.ASKING,
                                        asks=2).doses[0],),
                        alerts=(Alert(AlertKind.MISSED, 8, 0, AT, ("W1",), AT + 60),))
    store.users.save(record)
    raw = redis_client.get(store.keys.user("U1"))
    assert raw.startswith(b'{"v":1,')                # where the scripts read the version
    assert orjson.loads(raw) == {
        "v": 1, "s": 2, "tz": None, "times": [[8, 0, AT, AT, DAY, "asking", 2, None]],
        "alerts": [["missed", 8, 0, AT, ["W1"], AT + 60]]}
    assert store.users.load("U1") == record._replace(version=1)


def test_encode_decode_is_the_identity_for_any_round_state_name_and_days():
    for state in list(RoundState) + [None]:
        record = UserRecord("U1", (Dose(8, 0, 1.0, 2.0, DAY, state, 3, 4.0, ("W1",)),
                                   Dose(9, 5, None, None, None, None, 0, None)), tz="UTC",
                            version=7)
        assert records.decode("U1", records.encode(record, 7)) == record
    named = UserRecord("U1", (Dose(8, 0, name="血圧の薬", days=Days(weekdays=0b10101)),
                              Dose(21, 0, days=Days(every_other_from=DAY)),
                              Dose(22, 0, name="胃薬")))
    assert records.decode("U1", records.encode(named, 0)) == named


def test_a_time_without_name_or_days_costs_what_it_did(store, redis_client):
    store.users.save(UserRecord("U1", (Dose(8, 0, due=AT), Dose(9, 0, name="胃薬"))))
    times = orjson.loads(redis_client.get(store.keys.user("U1")))["times"]
    assert times == [[8, 0, AT, None, None, None, 0, None],
                     [9, 0, None, None, None, None, 0, None, [], "胃薬"]]


# -- records written by earlier versions (storage/upgrade.py) ----------------------------------
def test_records_of_the_one_time_version_load_and_are_saved_in_the_current_shape(
        redis_client, store):
    redis_client.set(store.keys.user("Uold"), orjson.dumps(
        {"h": 7, "m": 30, "tz": None, "day": DAY, "round": "missed", "asks": 0, "ans": None,
         "due": AT + 86400, "v": 4}))
    old = store.users.load("Uold")
    # "missed" with no ask sent was that version's "not asked"; the round's id is its time.
    assert old.doses == (Dose(7, 30, due=AT + 86400, at=AT - 1800, day=DAY,
                              state=RoundState.NOT_ASKED),)
    assert old.version == 4                     # the version that record was written as
    store.users.save(old)
    assert redis_client.get(store.keys.user("Uold")).startswith(b'{"v":5,"s":2,')


def test_a_round_that_version_gave_up_is_missed_and_still_takes_a_late_answer(redis_client):
    given_up = {"h": 8, "m": 0, "tz": "Europe/London", "day": DAY, "round": "asking",
                "asks": 11, "ans": None, "due": AT + 86400, "v": 9}
    upgraded = records.decode("U1", orjson.dumps(given_up))
    london_eight = 1795766400.0               # 08:00 that day in London
    assert upgraded.doses[0] == Dose(8, 0, AT + 86400, london_eight, DAY, RoundState.MISSED,
                                     11, None)
    # Under other settings (more re-asks), the same round was still being asked.
    still_asking = records.decode("U1", orjson.dumps(given_up),
                                  upgrade.Legacy("Asia/Tokyo", max_reasks=12))
    assert still_asking.doses[0].state is RoundState.ASKING


def test_several_times_of_the_version_before_load(redis_client, store):
    redis_client.set(store.keys.user("U2"), orjson.dumps(
        {"tz": None, "v": 3, "times": [[8, 0, AT, None, DAY, "taken", 1, AT + 60],
                                       [20, 0, AT + 43200, None, None, None, 0, None]],
         "alerts": [["taken", 8, 0, AT, ["W1"], AT]]}))
    loaded = store.users.load("U2")
    assert loaded.doses == (Dose(8, 0, AT, AT, DAY, RoundState.TAKEN, 1, AT + 60),
                            Dose(20, 0, AT + 43200))
    assert loaded.alerts == (Alert(AlertKind.TAKEN, 8, 0, AT, ("W1",), AT),)


def test_the_scripts_read_the_version_of_a_record_the_version_before_wrote(redis_client,
                                                                          store):
    redis_client.set(store.keys.user("Uold"),
                     orjson.dumps({"tz": None, "h": 7, "m": 30, "v": 4}))
    with pytest.raises(Conflict):
        store.users.save(UserRecord("Uold", version=3))
    assert store.users.save(store.users.load("Uold")).version == 5


# -- the history (記録) ------------------------------------------------------------------------
def test_outcomes_are_counted_with_the_save_that_ends_the_round(store):
    record = store.users.save(one_time())
    record = store.users.save(record, [TallyChange(DAY, RoundState.MISSED, +1)])
    record = store.users.save(record, [TallyChange(DAY, RoundState.MISSED, -1),
                                       TallyChange(DAY, RoundState.LATE, +1),
                                       TallyChange("2026-11-28", RoundState.TAKEN, +1)])
    assert store.users.history("U1") == {date(2026, 11, 27): DayTally(late=1),
                                         date(2026, 11, 28): DayTally(taken=1)}
    stale = store.users.load("U1")
    store.users.save(record)
    with pytest.raises(Conflict):   # a refused save counts nothing
        store.users.save(stale, [TallyChange(DAY, RoundState.TAKEN, +1)])
    assert store.users.history("U1")[date(2026, 11, 27)] == DayTally(late=1)


def test_the_history_keeps_96_days_in_384_bytes(store, redis_client):
    record = store.users.save(one_time())
    for offset in range(200):
        day = date.fromordinal(date(2026, 1, 1).toordinal() + offset).isoformat()
        record = store.users.save(record, [TallyChange(day, RoundState.TAKEN, +1)])
    kept = store.users.history("U1")
    assert len(kept) == 96 and min(kept) == date(2026, 4, 15) and max(kept) == date(2026, 7, 19)
    assert len(redis_client.get(store.keys.history("U1"))) == 384


def test_deleting_times_keeps_the_history_forgetting_drops_it(store):
    record = store.users.save(one_time())
    store.users.save(record, [TallyChange(DAY, RoundState.TAKEN, +1)])
    store.users.delete("U1")
    assert store.users.load("U1") is None and store.users.history("U1")
    store.users.forget("U1")
    assert store.users.history("U1") == {}


# -- the due index -----------------------------------------------------------------------------
def test_the_due_index_follows_every_save_and_is_claimed_a_lease_at_a_time(store):
    early = store.users.save(one_time("U1"))
    u2 = next(f"U{n}" for n in range(2, 100)        # in U1's shard on the cluster too
              if store.keys.shard_of(f"U{n}") == store.keys.shard_of("U1"))
    store.users.save(UserRecord(u2, (Dose(9, 0, due=AT + 3600),)))
    shard = store.keys.shard_of("U1")
    assert store.due.claim(AT - 1, 5, 10, shard) == ([], AT)
    assert store.due.claim(AT, 5, 10, shard) == (["U1"], AT + 5)     # U1 is this process's
    assert store.due.claim(AT + 1, 5, 10, shard) == ([], AT + 5)     # nobody takes it meanwhile
    assert store.due.claim(AT + 5, 5, 10, shard) == (["U1"], AT + 10)  # ... unless not saved
    store.users.save(early)                                   # a save puts it at its due time
    store.users.delete(u2)
    assert store.due.head(10) == ([("U1", AT)], 1)


def test_the_due_index_shows_the_next_due_of_every_shard(store):
    saved = [store.users.save(UserRecord(f"U{n}", (Dose(8, 0, due=AT + n),)))
             for n in range(40)]
    head, count = store.due.head(5)
    assert count == 40 and head == [(f"U{n}", AT + n) for n in range(5)]
    assert len({store.keys.shard_of(record.user_id) for record in saved}) == store.keys.shards
    everyone = [user for shard in range(store.keys.shards)
                for user in store.due.claim(AT + 100, 5, 100, shard)[0]]
    assert sorted(everyone) == sorted(record.user_id for record in saved)


def test_save_many_saves_users_of_many_shards_in_one_call(store, monkeypatch):
    batch = [UserRecord(f"U{n}", (Dose(8, 0, due=AT),)) for n in range(60)]
    stale = store.users.save(batch[7])
    store.users.save(stale)                   # U7 changed meanwhile
    round_trips, scripts = [], []
    for name in ("call", "call_many"):        # what goes to Redis, and the scripts run
        monkeypatch.setattr(store.pipeliner, name, lambda *args, real=getattr(
            store.pipeliner, name): round_trips.append(1) or real(*args))
    run = store.users._save_records
    monkeypatch.setattr(store.users, "_save_records",
                        lambda **kwargs: scripts.append(1) or run(**kwargs))
    saved = store.users.save_many(batch)
    assert len(round_trips) == 1               # one round trip, one script call a shard
    assert len(scripts) == len({store.keys.shard_of(record.user_id) for record in batch})
    assert saved.conflicts == ["U7"] and len(saved.records) == 59
    loaded = store.users.load_many([record.user_id for record in batch])
    assert [record.version for record in loaded] == [2 if n == 7 else 1 for n in range(60)]


def test_the_history_script_lays_its_cells_out_as_the_store_reads_them():
    assert (f"local RING_DAYS, CELL_BITS = {history.RING_DAYS}, {history.CELL_BITS}\n"
            in lua.source("tally.lua"))


def test_the_due_index_is_built_once_for_records_stored_before_it(store, redis_client):
    if store.keys.cluster:
        pytest.skip("a cluster's records were all written with the due index")
    redis_client.set(store.keys.user("Uold"), orjson.dumps({"h": 8, "m": 0, "due": AT, "v": 1}))
    assert store.due.build_once(store.users) == 1
    assert store.due.head(10) == ([("Uold", AT)], 1)
    assert store.due.build_once(store.users) is None


# -- webhook events ----------------------------------------------------------------------------
def test_webhook_events_are_first_delivered_once(store):
    assert store.events.first_delivery("01JEVENT")
    assert not store.events.first_delivery("01JEVENT")


def test_a_store_on_one_client_shares_its_outage_watch(redis_client):
    store = Store(redis_client)
    assert store.users.outage is store.due.outage is store.batches.outage
