"""The benchmark's own tools (bench/): exact and fast, no wall-clock assertions."""
import json
import math
import random
import time

import pytest
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import MessageEvent, TextMessageContent

from domain.rounds import RoundState
from domain.wallclock import local_day, zone
from bench import chaos, procs, records, stats
from bench.standin import (
    MULTICAST_PATH, PUSH_PATH, REPLY_PATH, SlidingWindow, StandIn, response_bytes, serve,
)
from bench.webhooks import (
    WebhookFactory, closed_loop, read_response, signed_request, text_event_body,
)
from chat import texts
from outbox import line
from outbox.line import LineOutbox, PushResult
from storage import keys
from storage.redis_server import free_port

TOKEN = "bench-token"
AUTH = {b"authorization": b"Bearer " + TOKEN.encode()}
KEY = b"0b0e3a3c-5b7e-4a8e-9d7e-1f2a3b4c5d6e"


# -- stats ------------------------------------------------------------------------------------
def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert stats.percentile(values, 50) == 50
    assert stats.percentile(values, 99) == 99
    assert stats.percentile(values, 100) == 100
    assert stats.percentile(reversed(values), 0) == 1
    assert stats.percentile([0.3], 99) == 0.3
    assert math.isnan(stats.percentile([], 99))
    with pytest.raises(ValueError):
        stats.percentile([1], 101)


def test_peak_rate_counts_the_busiest_half_open_window():
    assert stats.peak_rate([]) == 0
    assert stats.peak_rate([0.0, 0.1, 0.5, 0.99, 1.0, 1.5]) == 4
    assert stats.peak_rate([5.0, 0.0, 1.0, 2.0]) == 1          # exactly 1 s apart: one each
    assert stats.peak_rate([0.0, 0.2, 0.4], window=0.3) == 2


def test_duplicates_and_lateness():
    assert stats.duplicates(["a", "b", "a", "a", "c"]) == 2
    assert stats.duplicates([]) == 0
    due = {"a": 10.0, "b": 20.0}
    late = stats.lateness(due, [("a", 10.5), ("b", 21.0), ("a", 10.2), ("x", 0.0)])
    assert sorted(late) == [pytest.approx(0.2), pytest.approx(1.0)]


def test_chaos_lateness_spaces_each_re_ask_from_the_previous_arrival():
    pushes = [("a", "飲んだ??", 13.5, None), ("a", "飲んだ?", 10.1, None),
              ("b", "飲んだ?", 22.0, None)]
    late = chaos.lateness(pushes, {"a": 10.0, "b": 20.0}, interval=3.0)
    assert sorted(late) == [pytest.approx(0.1), pytest.approx(0.4), pytest.approx(2.0)]


def test_half_of_the_users_answer_drawn_from_the_seed_alone():
    ids = list(records.ids(10))
    random.seed(5)
    expected_next = random.random()
    random.seed(5)
    answering = chaos.answering_users(ids, seed_value=1)
    assert random.random() == expected_next       # the due times and kills do not move
    assert len(answering) == 5 and answering <= set(ids)
    assert chaos.answering_users(reversed(ids), seed_value=1) == answering
    assert chaos.expected_pushes({"Ua": 0, "Ub": 0}, reasks=10, answering={"Ua"}) == 1 + 12


def ask_push(to, attempt, at=0.0, button="took:1"):
    return (to, texts.ask(attempt), at, button)


def test_chaos_tally_owes_an_answering_user_the_first_ask_only():
    ids, answering = ["Ua", "Ub", "Uc"], frozenset({"Ua", "Uc"})
    pushes = [ask_push("Ua", 0), ask_push("Ua", 1),          # a re-ask before the answer
              ask_push("Ub", 0), ask_push("Ub", 1), ask_push("Ub", 1),
              ("Wb", "missed", 5.0, None), ("Wa", "missed", 5.0, None)]
    # Uc (answering) never got the first ask; Ub got a re-ask twice
    assert chaos.tally(pushes, ids, 2, answering) == (1, 1, 0)
    assert chaos.tally(pushes + [("Ua", "hello", 1.0, None)], ids, 2, answering)[2] == 1
    # Wa's user answered: told for nothing; Wb's round ended missed
    assert chaos.alert_tally(pushes, ids, answering) == (0, 0, 1)
    assert chaos.alert_tally(pushes[:5], ids, answering) == (1, 0, 0)
    assert chaos.alert_tally(pushes[:5], ids) == (3, 0, 0)    # nobody answers


def an_answer(user, answered=10.0):
    return chaos.Answer(user, "took:1", "text", asked=9.0, send_at=9.5,
                        event={"replyToken": "t" + user}, quick=False, answered=answered)


def test_answer_tally_counts_each_lost_answer_once_by_why():
    answers = [an_answer(user) for user in ("a", "b", "c", "d", "e", "f")]
    answers.append(an_answer("g", answered=None))
    pushes = [ask_push("a", 0, 9.0),
              ask_push("d", 1, 12.0),                  # after d's answer was answered 200
              ask_push("e", 1, 9.8),                   # before e's: not lost
              ask_push("f", 1, 12.0, "took:2"),        # f's other round
              ask_push("b", 1, 12.0)]                  # b: lost already, counted once
    replies = [("t" + user, texts.WELL_DONE, 10.0) for user in "adefg"]
    replies.append(("tb", texts.HELP, 10.0))
    lost, wrong = chaos.answer_tally(answers, pushes, replies)
    assert lost == {"replied otherwise": 1, "no reply": 1, "re-asked after its 200": 1,
                    "never answered 200": 1}
    assert wrong == {"使い方": 1}


def test_answers_come_soon_after_their_ask_before_the_next_one():
    answerers = chaos.Answerers(None, [1], {"U1"}, interval=3.0, seed_value=1)
    for i in range(200):
        answerers.plan(f"U{i}", "took:7", asked=100.0)
    answers = list(answerers.answers.values())
    quick = [answer for answer in answers if answer.quick]
    assert 20 <= len(quick) <= 60                            # a fifth
    assert all(100.0 <= answer.send_at < 100.05 for answer in quick)
    assert all(100.05 <= answer.send_at <= 102.4 for answer in answers if not answer.quick)
    assert {answer.kind for answer in answers} == {"text", "sticker", "button"}
    for answer in answers:
        if answer.kind == "button":                          # the ask's own 飲んだ!
            assert answer.event["postback"] == {"data": "took:7"}
        else:
            assert answer.event["message"]["type"] == answer.kind
    assert {answer.event["message"]["text"] for answer in answers if answer.kind == "text"} \
        == set(chaos.ANSWER_TEXTS)
    assert len({answer.token for answer in answers}) == 200


def test_an_answer_is_redelivered_as_the_same_event_until_answered_200():
    from gevent.server import StreamServer

    statuses, bodies = [503, 200], []

    def answer(sock, _):
        request = b""
        while b"\r\n\r\n" not in request:
            request += sock.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
        bodies.append(body)
        sock.sendall(response_bytes(statuses.pop(0), {}))
        sock.close()

    server = StreamServer(("127.0.0.1", 0), answer)
    server.start()
    try:
        answerers = chaos.Answerers(None, [], {"U1"}, interval=3.0, seed_value=1)
        answerers.plan("U1", "took:7", asked=100.0)
        [planned] = answerers.answers.values()
        for _ in range(2):
            answerers.deliver(planned, server.server_port)
    finally:
        server.stop(timeout=0)
    first, again = [json.loads(body)["events"][0] for body in bodies]
    assert first["deliveryContext"] == {"isRedelivery": False}
    assert again["deliveryContext"] == {"isRedelivery": True}
    assert first["webhookEventId"] == again["webhookEventId"]
    assert first["replyToken"] == again["replyToken"] == planned.token
    assert planned.deliveries == 2 and planned.answered is not None
    assert answerers.statuses == {503: 1, 200: 1}
    assert len(answerers._due) == 2        # planned, then again after the 503
    refused = chaos.Answerers(None, [], {"U1"}, interval=3.0, seed_value=1)
    refused.plan("U1", "took:7", asked=100.0)
    refused.deliver(*refused.answers.values(), free_port())    # nobody listens
    assert refused.statuses == {"none": 1} and len(refused._due) == 2


# -- user records in the bot's format -----------------------------------------------------------
def test_written_records_load_back_through_the_bots_store(store):
    due = 1_800_000_000.0
    written = [records.first_ask_record(records.user_id(1), due),
               records.reask_record(records.user_id(2), due + 1, asks=3),
               records.idle_record(records.user_id(3), due)]
    assert records.write(store.redis, written, batch=2) == 3
    for expected in written:
        loaded = store.users.load(expected.user_id)
        assert (loaded.doses, loaded.version) == (expected.doses, expected.version)
    ids = [r.user_id for r in written]
    assert [r.user_id for r in store.users.load_many(ids)] == ids
    first = store.users.load(records.user_id(1))
    store.users.save(first)                      # the bot's compare-and-set accepts the record
    assert store.users.load(records.user_id(1)).version == 2


def test_record_shapes():
    due = 1_800_000_000.0   # 2027-01-15 08:00:00 UTC = 17:00 in Tokyo
    [first] = records.first_ask_record("U1", due).doses
    assert (first.hour, first.minute, first.due, first.state, first.asks) == (17, 0, due, None, 0)
    assert records.first_ask_record("U1", due, times=3).times == ((17, 0), (19, 0), (21, 0))
    [reask] = records.reask_record("U2", due, asks=2).doses
    assert reask.is_open and reask.asks == 2 and reask.due == due
    assert reask.day == local_day(due, zone("Asia/Tokyo"))
    # re-asks due a moment apart after one burst belong to rounds that started together
    assert records.reask_record("U4", due + 1.5, asks=2).doses[0].at == reask.at
    [idle] = records.idle_record("U3", due).doses
    assert idle.state is RoundState.TAKEN and idle.due > due + 86000
    assert len(records.idle_record("U3", due, times=3).doses) == 3
    assert records.user_id(255) == "U" + "0" * 30 + "ff"
    assert records.first_ask_record("U1", due).version == 1


def test_written_records_are_byte_for_byte_what_the_store_writes(store):
    record = records.first_ask_record(records.user_id(4), 1_800_000_000.0)
    saved = store.users.save(record._replace(version=0))  # absent: saved as version 1
    assert saved == record
    assert store.redis.get(keys.ONE_REDIS.user(record.user_id)) == records.encode(record, 1)


# -- the stand-in -------------------------------------------------------------------------------
def push_body(to="U1", text="飲んだ?"):
    return json.dumps({"to": to, "messages": [{"type": "text", "text": text}]}).encode()


def test_sliding_window_refuses_above_the_limit_within_any_second():
    window = SlidingWindow(limit=2)
    assert [window.admit(t) for t in (0.0, 0.1, 0.9)] == [True, True, False]
    assert window.admit(1.0) is True       # 0.0 left the window
    assert window.admit(1.05) is False     # 0.1 and 1.0 are in it
    assert SlidingWindow(None).admit(0.0) is True


def test_standin_push_contract():
    standin = StandIn(TOKEN)
    headers = {**AUTH, b"x-line-retry-key": KEY}
    status, payload = standin.handle("POST", PUSH_PATH, headers, push_body(), arrived=5.0)
    assert status == 200 and len(payload["sentMessages"]) == 1
    again = standin.handle("POST", PUSH_PATH, headers, push_body(), arrived=6.0)
    assert again == (409, {"message": "The retry key is already accepted",
                           "sentMessages": payload["sentMessages"]})
    assert standin.pushes == [("U1", "飲んだ?", 5.0, None)]
    assert standin.handle("POST", PUSH_PATH, {}, push_body(), 7.0)[0] == 401
    bad_key = {**AUTH, b"x-line-retry-key": b"nope"}
    assert standin.handle("POST", PUSH_PATH, bad_key, push_body(), 7.0)[0] == 400
    assert standin.handle("POST", PUSH_PATH, AUTH, b"{}", 7.0)[0] == 400
    assert standin.attempts == [5.0, 6.0, 7.0, 7.0]


def test_standin_refuses_over_its_rate_and_counts_replies_once():
    clock = [100.0]
    standin = StandIn(TOKEN, rate_limit=2, clock=lambda: clock[0])
    reply = json.dumps({"replyToken": "t1", "messages": [{"type": "text", "text": "ok"}]}).encode()
    statuses = [standin.handle("POST", REPLY_PATH, AUTH, reply, 1.0)[0],
                standin.handle("POST", PUSH_PATH, AUTH, push_body(), 1.0)[0],
                standin.handle("POST", PUSH_PATH, AUTH, push_body("U2"), 1.0)[0]]
    assert statuses == [200, 200, 429]
    clock[0] += 1.0
    assert standin.handle("POST", REPLY_PATH, AUTH, reply, 2.0)[0] == 400   # token used
    assert standin.stats()["status"] == {200: 2, 429: 1, 400: 1}
    assert standin.replies == [("t1", "ok", 1.0)]
    standin.reset()
    assert standin.pushes == [] and standin.attempts == [] and standin.window.limit == 2


def test_standin_multicast_records_each_recipient_once_per_retry_key():
    standin = StandIn(TOKEN, rate_limit=10)
    headers = {**AUTH, b"x-line-retry-key": KEY}
    body = json.dumps({"to": ["U1", "U2", "U3"],
                       "messages": [{"type": "text", "text": "飲んだ?"}]}).encode()
    assert standin.handle("POST", MULTICAST_PATH, headers, body, 1.0) == (200, {})
    assert standin.handle("POST", MULTICAST_PATH, headers, body, 2.0)[0] == 409
    assert standin.pushes == [("U1", "飲んだ?", 1.0, None), ("U2", "飲んだ?", 1.0, None),
                              ("U3", "飲んだ?", 1.0, None)]
    assert standin.attempts == [1.0, 2.0]          # the rate limit counts requests
    for bad in ([], "U1", ["U1", 2], ["U"] * 501):
        bad_body = json.dumps({"to": bad, "messages": [{"type": "text", "text": "x"}]})
        assert standin.handle("POST", MULTICAST_PATH, AUTH, bad_body.encode(), 3.0)[0] == 400


def test_standin_answers_profiles_and_the_quota():
    standin = StandIn(TOKEN)
    standin.handle("POST", PUSH_PATH, AUTH, push_body(), 1.0)
    assert standin.handle("GET", "/v2/bot/profile/U1234567890", AUTH, b"", 2.0) == (
        200, {"userId": "U1234567890", "displayName": "bench U123456"})
    assert standin.handle("GET", "/v2/bot/message/quota", AUTH, b"", 2.0) == (
        200, {"type": "none"})
    assert standin.handle("GET", "/v2/bot/message/quota/consumption", AUTH, b"", 2.0) == (
        200, {"totalUsage": 1})
    assert standin.handle("GET", "/v2/bot/message/quota", {}, b"", 2.0)[0] == 401


def test_standin_control_endpoints():
    standin = StandIn(TOKEN)
    status, payload = standin.handle("POST", "/_bench/config", {},
                                     b'{"latency": 0.05, "rate_limit": 7}', 0.0)
    assert status == 200 and payload["latency"] == 0.05 and payload["rate_limit"] == 7
    standin.handle("POST", PUSH_PATH, AUTH, push_body(), 3.0)
    status, data = standin.handle("GET", "/_bench/records", {}, b"", 0.0)
    assert json.loads(json.dumps(data))["pushes"] == [["U1", "飲んだ?", 3.0, None]]
    standin.handle("POST", PUSH_PATH, AUTH, push_body("U2"), 4.0)
    status, data = standin.handle("POST", "/_bench/pushes", {}, b'{"since": 1}', 0.0)
    assert (status, data) == (200, {"pushes": [("U2", "飲んだ?", 4.0, None)]})


def test_standin_records_the_asks_first_button_as_pushed():
    standin = StandIn(TOKEN)
    items = [{"type": "action", "action": {"type": "postback", "label": label, "data": data,
                                           "displayText": label}}
             for label, data in texts.ask_buttons(1795734000)]
    body = json.dumps({"to": ["U1", "U2"], "messages": [
        {"type": "text", "text": "飲んだ??", "quickReply": {"items": items}}]}).encode()
    standin.handle("POST", MULTICAST_PATH, AUTH, body, 1.0)
    assert [push[3] for push in standin.pushes] == ["took:1795734000", "took:1795734000"]


def test_a_long_poll_for_pushes_returns_when_one_arrives():
    import gevent

    standin = StandIn(TOKEN)
    server = serve(standin)
    port = server.server_port
    try:
        poll = gevent.spawn(procs.http_json, port, "POST", "/_bench/pushes",
                            {"since": 0, "wait": 10})
        assert standin.poll_waiting.wait(5)   # the poll is waiting in the stand-in
        assert not poll.ready()
        standin.handle("POST", PUSH_PATH, AUTH, push_body(), 2.0)
        assert poll.get(timeout=5) == (200, {"pushes": [["U1", "飲んだ?", 2.0, None]]})
        # Something new already: at once; nothing new: empty once the wait is over.
        assert procs.http_json(port, "POST", "/_bench/pushes", {"since": 0, "wait": 10})[1] \
            == {"pushes": [["U1", "飲んだ?", 2.0, None]]}
        assert procs.http_json(port, "POST", "/_bench/pushes", {"since": 1, "wait": 0})[1] \
            == {"pushes": []}
    finally:
        server.stop(timeout=0)


def test_the_bots_outbox_talks_to_the_standin_over_http():
    standin = StandIn(TOKEN)
    server = serve(standin)
    try:
        outbox = LineOutbox(f"http://127.0.0.1:{server.server_port}", TOKEN, timeout=2.0,
                            backoff=0.01, max_backoff=0.05)
        key = KEY.decode()
        assert outbox.push("U9", ["飲んだ?"], key, (("飲んだ!", "took"),)) is PushResult.DELIVERED
        assert outbox.push("U9", ["飲んだ?"], key) is PushResult.DUPLICATE
        assert outbox.reply("token-1", ["よくできました"]) is True
        assert outbox.reply("token-1", ["よくできました"]) is False
        assert standin.pushes[0][:2] == ("U9", "飲んだ?") and standin.pushes[0][3] == "took"
        assert standin.replies[0][:2] == ("token-1", "よくできました")
    finally:
        server.stop(timeout=0)


def test_response_bytes_are_http_1_1_with_a_length():
    raw = response_bytes(429, {"message": "Too Many Requests"})
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert f"Content-Length: {len(body)}".encode() in head


# -- webhooks ---------------------------------------------------------------------------------
def test_signed_webhook_parses_with_the_sdk():
    body = text_event_body("U" + "a" * 32, "設定教えて", "reply-token-1")
    request = signed_request(8080, body, "secret")
    head, sent_body = request.split(b"\r\n\r\n", 1)
    assert sent_body == body
    signature = [line.split(b": ", 1)[1] for line in head.split(b"\r\n")
                 if line.startswith(b"X-Line-Signature")][0].decode()
    events = WebhookParser("secret").parse(body.decode(), signature)
    assert len(events) == 1 and isinstance(events[0], MessageEvent)
    assert isinstance(events[0].message, TextMessageContent)
    assert events[0].message.text == "設定教えて"
    assert events[0].reply_token == "reply-token-1"
    assert len(events[0].webhook_event_id) == 26


def test_factory_rotates_users_and_issues_fresh_tokens():
    factory = WebhookFactory(80, "s", ["Ua", "Ub"], "hi")
    (t1, r1), (t2, r2), (t3, r3) = factory(), factory(), factory()
    assert len({t1, t2, t3}) == 3
    assert b'"userId":"Ub"' in r1 and b'"userId":"Ua"' in r2 and b'"userId":"Ub"' in r3


class ChunkedSocket:
    def __init__(self, data, size):
        self.chunks = [data[i:i + size] for i in range(0, len(data), size)]

    def recv(self, _):
        return self.chunks.pop(0) if self.chunks else b""


def test_read_response_handles_split_and_back_to_back_answers():
    two = response_bytes(200, {"a": 1}) + b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad"
    sock, buffer = ChunkedSocket(two, 7), bytearray()
    first = read_response(sock, buffer)
    second = read_response(sock, buffer)
    assert (first.status, json.loads(first.body)) == (200, {"a": 1})
    assert second == (400, b"bad")
    with pytest.raises(ConnectionError):
        read_response(sock, buffer)


def test_closed_loop_drives_keep_alive_connections():
    from gevent.server import StreamServer

    def answer(sock, _):
        buffer = bytearray()
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
                length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")][0])
                while len(rest) < length:
                    rest += sock.recv(65536)
                buffer = bytearray(rest[length:])
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        finally:
            sock.close()

    server = StreamServer(("127.0.0.1", 0), answer)
    server.start()
    try:
        factory = WebhookFactory(server.server_port, "s", ["Ua"], "hi")
        result = closed_loop(server.server_port, factory, connections=3, duration=0.15,
                             warmup=0.05)
    finally:
        server.stop(timeout=0)
    assert result.errors == 0
    assert set(result.statuses) == {200}
    assert len(result.sent) == sum(result.statuses.values())
    assert result.answers == {token: 200 for token in result.sent}
    assert result.completed == len(result.latencies)


# -- profiles and what-if variants -------------------------------------------------------------
def test_profile_components():
    from bench.profiled import ROOT, component
    assert component(("/x/site-packages/pydantic/v1/main.py", 1, "validate_model")) == "pydantic"
    assert component(("~", 0, "<method 'send' of '_socket.socket' objects>")) == "socket syscalls"
    assert component((ROOT + "/actors/user.py", 1, "_ask")) == "bot code"
    assert component(("/usr/lib/python3.11/json/decoder.py", 1, "raw_decode")) == "json"
    assert component(("~", 0, "<built-in method builtins.isinstance>")).startswith("other")


def test_the_variant_is_the_sdk_transport(monkeypatch):
    from bench import variants

    # lean-line and raw-http are gone: raw-http's idea is the core's outbox/http.py
    assert set(variants.VARIANTS) == {"sdk-http", "no-replica-wait"}
    monkeypatch.setattr(line, "LineHttp", line.LineHttp)  # undone after the test
    variants.apply(["sdk-http"])
    assert isinstance(LineOutbox("http://127.0.0.1:9", TOKEN).transport, variants.SdkHttp)


def test_the_no_replica_wait_variant_claims_on_a_cluster_without_waiting(cluster_client,
                                                                          monkeypatch):
    from bench import variants
    from domain.rounds import Dose
    from domain.user import UserRecord
    from storage.batches import AskBatches, AskKey, ClaimStatus
    from storage.store import Store

    def waits():
        per_node = cluster_client.info("commandstats", target_nodes=cluster_client.PRIMARIES)
        return sum(stats.get("cmdstat_wait", {}).get("calls", 0) for stats in per_node.values())

    def claim(batch_id, user_id):
        [claimed] = store.batches.claim(batch_id, AskKey(0, 60.0),
                                        [UserRecord(user_id, (Dose(8, 0),))], 30, 0.0)
        return claimed.status

    store = Store(cluster_client)
    before = waits()
    assert claim("b1", "U1") is ClaimStatus.WON and waits() == before + 1   # the core waits
    monkeypatch.setattr(AskBatches, "_replicated", AskBatches._replicated)  # undone after
    variants.apply(["no-replica-wait"])
    assert claim("b2", "U2") is ClaimStatus.WON and waits() == before + 1   # the variant not


def test_the_sdk_transport_is_read_like_the_core():
    from bench.variants import SdkHttp

    standin = StandIn(TOKEN)
    server = serve(standin)
    base = f"http://127.0.0.1:{server.server_port}"
    key = "0b0e3a3c-5b7e-4a8e-9d7e-1f2a3b4c5d6a"
    try:
        sdk = LineOutbox(base, TOKEN, timeout=2.0, backoff=0.01, max_backoff=0.02,
                         deadline=0.2, transport=SdkHttp(base, TOKEN))
        assert sdk.push("U9", ["飲んだ?"], key) is PushResult.DELIVERED
        assert sdk.push("U9", ["飲んだ?"], key) is PushResult.DUPLICATE     # 409
        assert sdk.reply("token-1", ["x"]) is True
        assert sdk.reply("token-1", ["x"]) is False                        # used token
        wrong = LineOutbox(base, "wrong-token", timeout=2.0, transport=SdkHttp(base, "wrong"))
        assert wrong.push("U9", ["飲んだ?"], key[:-1] + "b") is PushResult.REFUSED
        assert wrong.auth_refused
        standin.configure(rate_limit=0)
        assert sdk.push("U9", ["飲んだ?"], key[:-1] + "c") is PushResult.FAILED  # 429 throughout
    finally:
        server.stop(timeout=0)


def test_cpu_window_reads_this_process():
    import os

    from types import SimpleNamespace

    from bench import procs
    from bench.scenarios import CpuWindow
    this_process = SimpleNamespace(cpu_seconds=lambda: procs.cpu_seconds(os.getpid()))
    window = CpuWindow(this_process).start()
    spent = time.process_time()
    while time.process_time() - spent < 0.1:  # busy, not sleeping: CPU this window must see
        sum(range(10000))
    spent = time.process_time() - spent
    window.stop()
    assert abs(window.cpu - spent) < 0.05       # /proc ticks are 10 ms
    assert window.wall > 0 and 0 < window.busy
