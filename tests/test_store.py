import itertools
from datetime import date

import gevent
import orjson
import pytest
import redis as redis_py
from gevent.event import Event

from domain.history import DayTally, TallyChange
from domain.rounds import Round, RoundState
from domain.user import UserRecord
from storage import keys, records
from storage.pipelining import Pipeliner
from storage.store import (
    EVENT_DEDUPE_TTL, Ask, Claim, ClaimStatus, Conflict, Store, Taken, TakeStatus, connect,
)

DAY = "2026-11-27"
AT = 1795734000.0   # 2026-11-27 08:00 in Tokyo: the round's id
WON, SENT, HELD = Claim(ClaimStatus.WON), Claim(ClaimStatus.SENT), ClaimStatus.HELD


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
    return UserRecord(user_id, (Round(8, 0, due=AT, **round_fields),))


def new_user(store, user_id="U1"):
    record = one_time(user_id)
    store.save(record)
    return record


def claim(store, batch_id, *records_, attempt=0, day=DAY):
    return store.claim_batch(batch_id, attempt, AT, [Ask(record, day) for record in records_],
                             lease_seconds=30)


def test_an_ask_is_claimed_by_one_batch_and_remembered_once_shown(store, redis_client):
    record = new_user(store)
    store.heartbeat(30)                    # the claiming process is alive
    assert claim(store, "batch-1", record) == [WON]
    assert orjson.loads(redis_client.get(keys.batch("batch-1"))) == {
        "to": ["U1"], "attempt": 0, "round": int(AT)}
    assert store.load("U1").version == 2   # a first ask's claim saves the round started
    other_process = store.load("U1")
    [held] = claim(store, "batch-2", other_process)
    assert held.status is HELD and 29 < held.lease_left <= 30
    assert redis_client.get(keys.batch("batch-2")) is None  # nobody won: no batch stored
    store.finish_batch("batch-1", shown=True)
    assert claim(store, "batch-3", other_process) == [SENT]
    assert claim(store, "batch-4", other_process, attempt=1) == [WON]


def test_a_first_asks_claim_saves_the_round_started_and_only_the_winners(store):
    asked, changed = new_user(store), new_user(store, "U2")
    store.save(store.load("U2"))                # another process wrote U2 meanwhile
    for record in (asked, changed):
        record.replace_round(record.rounds[0], record.rounds[0]._replace(
            state=RoundState.ASKING, at=AT, day=DAY))
    assert [c.status for c in claim(store, "batch-1", asked, changed)] == [
        ClaimStatus.WON, ClaimStatus.CONFLICT]
    stored = store.load("U1")                   # an answer from now on finds it open
    assert stored.rounds[0].is_open and stored.version == asked.version == 2
    assert not store.load("U2").rounds[0].is_open
    store.save(asked)                           # the asker's save follows the claim's version
    assert claim(store, "batch-2", asked, attempt=1) == [WON]
    assert store.load("U1").version == asked.version == 3   # a re-ask's claim writes none


def test_an_unconfirmed_batch_is_resent_whole_with_its_own_key(store, redis_client):
    first, second = new_user(store), new_user(store, "U2")
    assert claim(store, "batch-1", first, second) == [WON] * 2
    redis_client.delete(keys.batch_lease("batch-1"))  # the sender died; its lease ran out
    assert claim(store, "batch-2", store.load("U2")) == [
        Claim(ClaimStatus.RESEND, batch_id="batch-1")]
    store.heartbeat(30)
    assert store.take_batch("batch-1", lease_seconds=30) == Taken(
        TakeStatus.TAKEN, body={"to": ["U1", "U2"], "attempt": 0, "round": int(AT)})
    another_process = Store(redis_client, token="p2")
    taken = another_process.take_batch("batch-1", lease_seconds=30)
    assert taken.status is TakeStatus.HELD and 29 < taken.lease_left <= 30
    store.finish_batch("batch-1", shown=True)
    assert store.take_batch("batch-1", lease_seconds=30) == Taken(TakeStatus.SENT)
    assert claim(store, "batch-3", store.load("U1")) == [SENT]


def test_a_send_that_failed_leaves_the_batch_to_be_resent(store):
    record = new_user(store)
    claim(store, "batch-1", record)
    store.finish_batch("batch-1", shown=False)
    assert claim(store, "batch-2", record) == [Claim(ClaimStatus.RESEND, batch_id="batch-1")]


def test_a_claim_whose_batch_is_gone_is_claimed_afresh(store, redis_client):
    record = new_user(store)
    claim(store, "batch-1", record)
    redis_client.delete(keys.batch("batch-1"), keys.batch_lease("batch-1"))
    assert store.take_batch("batch-1", lease_seconds=30) == Taken(TakeStatus.GONE)
    assert claim(store, "batch-2", record) == [WON]


def test_a_decision_on_a_stale_record_is_refused_and_claims_nothing(store, redis_client):
    record, fresh = new_user(store), one_time("U2")
    stale = store.load("U1")
    store.save(record)
    assert claim(store, "batch-1", stale, fresh) == [Claim(ClaimStatus.CONFLICT), WON]
    assert redis_client.get(keys.ask_claim("U1", AT, 0)) is None
    assert orjson.loads(redis_client.get(keys.batch("batch-1")))["to"] == ["U2"]
    with pytest.raises(Conflict):
        store.save(stale)


def test_each_round_of_a_user_has_its_own_claims(store):
    record = new_user(store)
    assert claim(store, "batch-1", record) == [WON]
    other_round = store.claim_batch("batch-2", 0, AT + 12 * 3600, [Ask(record)], 30)
    assert other_round == [WON]


def test_saves_made_at_the_same_moment_each_get_their_own_answer(store):
    users = [UserRecord(f"U{n}", (Round(7, n),)) for n in range(50)]
    stale = UserRecord("U0", (Round(9, 0),))  # version 0, but U0 will exist by then

    def save(record):
        try:
            store.save(record)
            return "saved"
        except Conflict:
            return "conflict"

    results = [job.value for job in gevent.joinall(
        [gevent.spawn(save, record) for record in users] + [gevent.spawn(save, stale)])]
    assert results == ["saved"] * 50 + ["conflict"]
    assert [store.load(f"U{n}").rounds[0].minute for n in range(50)] == list(range(50))


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


def test_pipelined_commands_of_one_moment_share_a_round_trip(redis_client, monkeypatch):
    pipeliner = Pipeliner(redis_client)
    sent = []
    real_pipeline = redis_client.pipeline
    monkeypatch.setattr(redis_client, "pipeline", lambda **kw: sent.append(1) or real_pipeline(**kw))
    together = [gevent.spawn(pipeliner.call, lambda pipe, n=n: pipe.incrby("sum", n))
                for n in range(1, 51)]
    gevent.joinall(together)
    assert sorted(g.value for g in together)[-1] == sum(range(1, 51))
    # each caller gets its own command's answer, in the order they came
    assert [g.value for g in together] == list(itertools.accumulate(range(1, 51)))
    assert len(sent) == 1                          # one pipeline for the 50
    assert pipeliner.call(lambda pipe: pipe.get("sum")) == b"1275"   # alone: no pipeline
    assert len(sent) == 1


def test_pipelined_scripts_are_checked_once_and_again_only_if_redis_forgot_them(redis_client):
    pipeliner = Pipeliner(redis_client)
    add = redis_client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")

    def together(n):
        callers = [gevent.spawn(pipeliner.call, lambda pipe, i=i: add(
            keys=["sum"], args=[i], client=pipe)) for i in range(1, n + 1)]
        gevent.joinall(callers, raise_error=True)
        return [caller.value for caller in callers]

    def script_checks():                         # Redis 7 counts subcommands apart
        return sum(stat["calls"] for name, stat in redis_client.info("commandstats").items()
                   if name.startswith("cmdstat_script"))

    assert together(3) == [1, 3, 6]
    checks = script_checks()
    assert together(3) == [7, 9, 12] and script_checks() == checks   # no SCRIPT EXISTS again
    redis_client.script_flush()                  # as a restarted Redis would have forgotten
    checks = script_checks()
    plain = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("plain"))
    assert together(3) == [13, 15, 18]           # each caller's once, nothing run twice:
    assert plain.get(timeout=5) == 1             # not the plain command sent with them either
    assert script_checks() > checks


def test_a_caller_killed_while_sending_its_batch_leaves_nobody_waiting(redis_client):
    pipeliner = Pipeliner(redis_client)
    sending = Event()
    leader = gevent.spawn(pipeliner.call,
                          lambda pipe: sending.set() or pipe.blpop("never", timeout=5))
    others = [gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("counter")) for _ in range(3)]
    assert sending.wait(timeout=5)       # the leader took the others into its batch: on the wire
    leader.kill()
    gevent.joinall(others, timeout=5)
    assert all(isinstance(g.exception, redis_py.ConnectionError) for g in others)
    later = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("counter"))
    assert later.get(timeout=5) >= 1     # the pipeliner still works


# -- a deploy: a process of the version that knew one time per user, on the same Redis ------
def test_claims_of_the_one_time_version_are_respected(store, redis_client):
    record = new_user(store)
    redis_client.set(keys.push_claim("U1", DAY, 0), "pending", px=20_000)  # one push per ask
    [held] = claim(store, "batch-1", record)
    assert held.status is HELD and 19 < held.lease_left <= 20
    redis_client.set(keys.push_claim("U1", DAY, 0), "sent")
    assert claim(store, "batch-2", record) == [SENT]
    # Its batches name no round: they hold the one time's ask of that day. It has no
    # heartbeat, so a batch of its not confirmed is resent at once (same key: LINE says 409).
    redis_client.set(keys.batch("old"), orjson.dumps({"to": ["U1"], "attempt": 1}))
    redis_client.set(keys.batch_lease("old"), 1, px=20_000)
    redis_client.set(keys.push_claim("U1", DAY, 1), "b:old")
    assert claim(store, "batch-3", record, attempt=1) == [
        Claim(ClaimStatus.RESEND, batch_id="old")]


def test_a_one_time_users_claims_are_visible_to_the_one_time_version(store, redis_client):
    record = new_user(store)
    claim(store, "batch-1", record)
    assert redis_client.get(keys.push_claim("U1", DAY, 0)) == b"b:batch-1"


def test_a_day_claim_made_for_another_round_does_not_hold_this_one(store, redis_client):
    # The user had 8:00 (asked today), replaced it with 20:00: 20:00 is asked today too.
    record = new_user(store)
    assert claim(store, "batch-1", record) == [WON]
    store.finish_batch("batch-1", shown=True)
    evening = store.claim_batch("batch-2", 0, AT + 12 * 3600, [Ask(record, DAY)], 30)
    assert evening == [WON]
    # A user with several times has no day claims at all.
    assert store.claim_batch("batch-3", 1, AT, [Ask(record)], 30) == [WON]
    assert redis_client.get(keys.push_claim("U1", DAY, 1)) is None


# -- the stored shape ---------------------------------------------------------------------------
def test_a_user_with_one_time_is_stored_as_the_one_time_version_wrote_it(store, redis_client):
    record = one_time(at=AT, day=DAY, state=RoundState.ASKING, asks=2)
    store.save(record)
    assert orjson.loads(redis_client.get(keys.user("U1"))) == {
        "h": 8, "m": 0, "tz": None, "day": DAY, "round": "asking", "asks": 2, "ans": None,
        "due": AT, "at": AT, "v": 1}
    assert store.load("U1").rounds == record.rounds


def test_records_of_the_one_time_version_load(redis_client, store):
    redis_client.set(keys.user("Uold"), orjson.dumps(
        {"h": 7, "m": 30, "tz": None, "day": DAY, "round": "missed", "asks": 0, "ans": None,
         "due": AT + 86400, "v": 4}))
    [round] = store.load("Uold").rounds
    assert round == Round(7, 30, due=AT + 86400, day=DAY, state=RoundState.NOT_ASKED)
    assert store.load("Uold").version == 4


def test_several_times_round_trip(store, redis_client):
    record = UserRecord("U1", (Round(8, 0, due=AT), Round(20, 0, due=AT + 43200, at=AT - 43200,
                                                           day="2026-11-26",
                                                           state=RoundState.MISSED, asks=11)),
                        tz="Europe/London")
    store.save(record)
    stored = orjson.loads(redis_client.get(keys.user("U1")))
    assert "h" not in stored   # the one-time version sees no time and leaves the user alone
    assert store.load("U1").rounds == record.rounds
    assert store.load("U1").tz == "Europe/London"


# -- the record (記録) ------------------------------------------------------------------------
def test_outcomes_are_counted_with_the_save_that_ends_the_round(store):
    record = new_user(store)
    store.save(record, [TallyChange(DAY, RoundState.MISSED, +1)])
    store.save(record, [TallyChange(DAY, RoundState.MISSED, -1),
                        TallyChange(DAY, RoundState.LATE, +1),
                        TallyChange("2026-11-28", RoundState.TAKEN, +1)])
    assert store.history("U1") == {date(2026, 11, 27): DayTally(late=1),
                                   date(2026, 11, 28): DayTally(taken=1)}
    stale = store.load("U1")
    store.save(record)
    with pytest.raises(Conflict):   # a refused save counts nothing
        store.save(stale, [TallyChange(DAY, RoundState.TAKEN, +1)])
    assert store.history("U1")[date(2026, 11, 27)] == DayTally(late=1)


def test_the_record_keeps_96_days_in_384_bytes(store, redis_client):
    record = new_user(store)
    for offset in range(200):
        day = date.fromordinal(date(2026, 1, 1).toordinal() + offset).isoformat()
        store.save(record, [TallyChange(day, RoundState.TAKEN, +1)])
    kept = store.history("U1")
    assert len(kept) == 96 and min(kept) == date(2026, 4, 15) and max(kept) == date(2026, 7, 19)
    assert len(redis_client.get(keys.history("U1"))) == 384


def test_deleting_times_keeps_the_record_forgetting_drops_it(store):
    record = new_user(store)
    store.save(record, [TallyChange(DAY, RoundState.TAKEN, +1)])
    store.delete("U1")
    assert store.load("U1") is None and store.history("U1")
    store.forget("U1")
    assert store.history("U1") == {}


def test_encode_decode_is_the_identity_for_any_round_state():
    for state in list(RoundState) + [None]:
        record = UserRecord("U1", (Round(8, 0, 1.0, 2.0, DAY, state, 3, 4.0),
                                   Round(9, 5, None, None, None, None, 0, None)), tz="UTC",
                            version=7)
        decoded = records.decode("U1", records.encode(record))
        assert (decoded.rounds, decoded.tz, decoded.version) == (record.rounds, "UTC", 7)


def test_a_batch_whose_sender_stopped_its_heartbeat_is_resent_before_its_lease_ends(
        store, redis_client):
    record = new_user(store)
    sender = Store(redis_client, token="sender")
    sender.heartbeat(30)
    assert claim(sender, "batch-1", record) == [WON]
    assert claim(store, "batch-2", record)[0].status is HELD
    redis_client.delete(keys.alive("sender"))         # its heartbeat ran out: it died
    assert claim(store, "batch-3", record) == [Claim(ClaimStatus.RESEND, batch_id="batch-1")]


def test_the_due_index_follows_every_save_and_is_claimed_a_lease_at_a_time(store):
    early, late = one_time("U1"), UserRecord("U2", (Round(9, 0, due=AT + 3600),))
    store.save(early)
    store.save(late)
    assert store.claim_due(AT - 1, 5, 10) == ([], AT)
    assert store.claim_due(AT, 5, 10) == (["U1"], AT + 5)     # U1 is this process's for 5 s
    assert store.claim_due(AT + 1, 5, 10) == ([], AT + 5)     # nobody else takes it meanwhile
    assert store.claim_due(AT + 5, 5, 10) == (["U1"], AT + 10)  # ... unless it is not saved
    store.save(early)                                      # a save puts it at its due time
    store.delete("U2")
    assert store.due_head(10) == ([("U1", AT)], 1)


def test_first_delivery_reading_reads_the_record_only_the_first_time(store):
    record = UserRecord("U1", (Round(8, 0, due=AT),))
    store.save(record)
    first, loaded = store.first_delivery_reading("01JREAD", "U1")
    assert first and loaded.rounds == record.rounds and loaded.version == 1
    assert store.first_delivery_reading("01JREAD", "U1") == (False, None)
    assert 0 < store.redis.ttl(keys.webhook_event("01JREAD")) <= EVENT_DEDUPE_TTL
    assert store.first_delivery("01JAWAKE")      # an event seen while the actor was awake
    assert store.first_delivery_reading("01JAWAKE", "U1") == (False, None)
    first, new = store.first_delivery_reading("01JOTHER", "Unobody")
    assert first and (new.user_id, new.rounds, new.version) == ("Unobody", (), 0)
