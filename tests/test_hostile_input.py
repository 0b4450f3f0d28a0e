"""Whatever is posted to /callback: the stated status, Redis untouched, and the server still
answers a good webhook afterwards. Plus the events the bot must shrug off (standby, groups,
unknown types) and the /debug guard.

Most requests go through the real WSGI app in-process (WebTest); a few go over a real socket
to gevent's server, where chunked bodies and early answers actually happen."""
import hmac
import json
import logging
import socket
import uuid
from dataclasses import dataclass, field
from typing import Optional

import gevent
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webtest import TestApp, TestRequest

from chat import texts
from simulator.signing import sign
from tests.conftest import SECRET
from tests.support import new_user_id
from edge import MAX_BODY_BYTES
from web import create_app

DEBUG_TOKEN = "debug-token-for-tests"
EVENT_KEYS = b"usa:event:"


# -- helpers ---------------------------------------------------------------------------------

def event(type_="message", user=None, **overrides):
    data = {
        "type": type_, "mode": "active", "timestamp": 1795725600000,
        "source": {"type": "user", "userId": user or new_user_id()},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "replyToken": uuid.uuid4().hex,
    }
    data.update(overrides)
    return data


def text_event(text="7時", **overrides):
    message = {"id": "468789577898262530", "type": "text", "text": text, "quoteToken": "q"}
    return event("message", message=message, **overrides)


def body(*events, **extra) -> bytes:
    payload = {"destination": "U" + "0" * 32, "events": list(events), **extra}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def snapshot(redis_client) -> dict:
    return {key: redis_client.dump(key) for key in redis_client.scan_iter()}


def without_event_keys(snap: dict) -> dict:
    return {key: value for key, value in snap.items() if not key.startswith(EVENT_KEYS)}


@pytest.fixture
def app(bot):
    return TestApp(create_app(channel_secret=SECRET, system=bot.system, store=bot.store,
                              outbox=bot.outbox, debug_token=DEBUG_TOKEN))


def post(app, raw: bytes, *, signature: Optional[str] = "sign", status="*", lint=True,
         headers=None):
    headers = dict(headers or {})
    if signature == "sign":
        headers["X-Line-Signature"] = sign(SECRET, raw)
    elif signature is not None:
        headers["X-Line-Signature"] = signature
    client = app if lint else TestApp(app.app, lint=False)
    return client.post("/callback", params=raw, headers=headers, status=status,
                       content_type="application/json")


def unreadable_lines(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "outcome=unreadable" in r.getMessage()]


def assert_still_serves(app, bot):
    """A good webhook after the bad one is handled as usual."""
    user = new_user_id()
    assert post(app, body(text_event("7時", user=user))).status_int == 200
    bot.timer.settle()
    assert bot.store.users.load(user).times == ((7, 0),)


# -- the table -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    name: str
    raw: bytes
    status: int
    signature: Optional[str] = "sign"   # "sign": a valid one; None: no header
    headers: dict = field(default_factory=dict)
    lint: bool = True
    unreadable: int = 0                 # events skipped, each with its WARNING line


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


GOOD = body(text_event("7時"))
OVER_1MB = body(text_event("あ" * (MAX_BODY_BYTES // 3 + 10)))

ROWS = [
    # signature
    Row("no signature", GOOD, 400, signature=None),
    Row("empty signature", GOOD, 400, signature=""),
    Row("signed with another secret", GOOD, 400, signature=sign("not-the-secret", GOOD)),
    Row("signature of another body", GOOD, 400, signature=sign(SECRET, b"{}")),
    Row("signature not base64", GOOD, 400, signature="!!not base64!!"),
    Row("signature with non-ASCII bytes", GOOD, 400, signature="\xff\xfe\u00e9"),
    # size and framing
    Row("body over 1 MB", OVER_1MB, 413),
    Row("body over 1 MB without signature", OVER_1MB, 413, signature=None),
    Row("Content-Length not a number", GOOD, 400, headers={"Content-Length": "lots"},
        lint=False),
    Row("negative Content-Length", GOOD, 400, headers={"Content-Length": "-1"}, lint=False),
    Row("empty body", b"", 400),
    # not JSON
    Row("not JSON", b"hello", 400),
    Row("truncated JSON", GOOD[:-3], 400),
    Row("not UTF-8", b'{"events": ["\xff\xfe"]}', 400),
    Row("UTF-8 BOM", b"\xef\xbb\xbf" + GOOD, 400),
    Row("deeply nested JSON", _nested(200_000).encode(), 400),
    Row("huge number", b'{"events": [], "n": ' + b"9" * 100_000 + b"}", 400),
    # wrong shapes
    Row("JSON array", b"[]", 400),
    Row("JSON null", b"null", 400),
    Row("JSON string", b'"events"', 400),
    Row("JSON number", b"42", 400),
    Row("no events", b'{"destination": "U0"}', 400),
    Row("events null", b'{"events": null}', 400),
    Row("events a string", b'{"events": "message"}', 400),
    Row("events an object", b'{"events": {"type": "message"}}', 400),
    Row("text nested deep inside an event", body(text_event("x")).replace(
        b'"x"', _nested(100_000).encode()), 400),   # deeper than the JSON parser goes
    # an event the bot cannot read: skipped and logged once, the rest of the body handled
    # (tests/test_line_sdk_webhooks.py), 200: a redelivery would carry the same event
    Row("an event that is a number", b'{"events": [1]}', 200, unreadable=1),
    Row("an event that is null", b'{"events": [null]}', 200, unreadable=1),
    Row("an event that is a list", b'{"events": [[]]}', 200, unreadable=1),
    Row("event without type", body({k: v for k, v in text_event().items() if k != "type"}), 200,
        unreadable=1),
    Row("event type not a string", body(text_event(type=5)), 200, unreadable=1),
    Row("event type a list", body(text_event(type=["message"])), 200, unreadable=1),
    Row("message event without message", body(event("message")), 200, unreadable=1),
    Row("text message without text",
        body(event("message", message={"id": "1", "type": "text", "quoteToken": "q"})), 200,
        unreadable=1),
    Row("text message without quoteToken",
        body(event("message", message={"id": "1", "type": "text", "text": "7時"})), 200,
        unreadable=1),
    Row("follow without follow", body(event("follow")), 200, unreadable=1),
    Row("text that is a number", body(text_event(5)), 200, unreadable=1),
    Row("text that is an object", body(text_event({"text": "7時"})), 200, unreadable=1),
    Row("message that is a string", body(event("message", message="7時")), 200, unreadable=1),
    Row("message type a list", body(event("message", message={"type": ["text"]})), 200,
        unreadable=1),
    Row("no webhookEventId",
        body({k: v for k, v in text_event().items() if k != "webhookEventId"}), 200,
        unreadable=1),
    Row("no mode", body({k: v for k, v in text_event().items() if k != "mode"}), 200,
        unreadable=1),
    Row("unknown mode", body(text_event(mode="passive")), 200, unreadable=1),
    Row("no deliveryContext",
        body({k: v for k, v in text_event().items() if k != "deliveryContext"}), 200,
        unreadable=1),
    Row("timestamp a string", body(text_event(timestamp="yesterday")), 200, unreadable=1),
    Row("timestamp NaN", body(text_event(timestamp=0)).replace(b'"timestamp": 0', b'"timestamp": NaN'),
        200, unreadable=1),
    Row("source a string", body(text_event(source="user")), 200, unreadable=1),
    Row("source of an unknown type", body(text_event(source={"type": "square", "userId": "U1"})),
        200, unreadable=1),
    Row("postback without data", body(event("postback", postback={})), 200, unreadable=1),
    Row("reply token a number", body(event("follow", replyToken=7)), 200, unreadable=1),
    Row("two unreadable events", body(event("message"), event("follow")), 200, unreadable=2),
    # accepted and ignored: 200, nothing stored, nothing sent
    Row("no events (LINE's verify)", body(), 200),
    Row("extra fields at the top", body(extra={"nested": {"a": [1, 2]}}), 200),
    Row("unknown event type", body(event("somethingNew", whatever={"a": 1})), 200),
    Row("unknown message type",
        body(event("message", message={"id": "1", "type": "hologram", "depth": 3})), 200),
    Row("many unknown events", body(*[event("somethingNew") for _ in range(2000)]), 200),
    Row("standby mode", body(text_event("7時", mode="standby")), 200),
    Row("video play complete", body(event("videoPlayComplete",
                                          videoPlayComplete={"trackingId": "t"})), 200),
    Row("unsend", body(event("unsend", unsend={"messageId": "1"})), 200),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_bad_input_gets_its_status_and_changes_nothing(row, app, bot, redis_client, caplog):
    before = snapshot(redis_client)
    answer = post(app, row.raw, signature=row.signature, headers=row.headers, lint=row.lint)
    bot.timer.settle()
    assert answer.status_int == row.status
    if row.status == 400 and row.signature == "sign" and not row.headers:
        assert answer.text == "malformed webhook body"  # got past the signature
    assert len(unreadable_lines(caplog)) == row.unreadable
    assert snapshot(redis_client) == before
    assert not bot.system.awake
    assert bot.platform.replies == [] and bot.platform.pushes == []
    assert_still_serves(app, bot)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_wrong_method_is_405(method, app, bot, redis_client):
    before = snapshot(redis_client)
    answer = app.request("/callback", method=method, status=405, expect_errors=True)
    assert "POST" in answer.headers["Allow"]
    assert snapshot(redis_client) == before
    assert_still_serves(app, bot)


# -- bodies that must not be read whole ------------------------------------------------------

class EndlessInput:
    """A request body that never ends; counts what the app read."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        self.read_bytes += size
        return b"x" * size

    def readline(self, size=-1):
        return self.read(size)

    def readlines(self, hint=-1):
        raise AssertionError("read the endless body whole")

    def __iter__(self):
        raise AssertionError("read the endless body whole")


def _raw_request(app, environ):
    request = TestRequest.blank("/callback", method="POST")
    request.environ.pop("CONTENT_LENGTH", None)
    request.environ.update(environ)
    return app.do_request(request, status="*", expect_errors=True)


def test_a_huge_content_length_is_refused_before_reading(app, bot, redis_client):
    stream = EndlessInput()
    before = snapshot(redis_client)
    answer = _raw_request(app, {"CONTENT_LENGTH": str(10 ** 12), "wsgi.input": stream,
                                "HTTP_X_LINE_SIGNATURE": "x"})
    assert answer.status_int == 413
    assert stream.read_bytes == 0
    assert snapshot(redis_client) == before
    assert_still_serves(app, bot)


def test_an_endless_chunked_body_is_cut_off(app, bot, redis_client):
    stream = EndlessInput()
    before = snapshot(redis_client)
    answer = _raw_request(app, {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": stream,
                                "wsgi.input_terminated": True, "HTTP_X_LINE_SIGNATURE": "x"})
    assert answer.status_int == 413
    assert stream.read_bytes <= MAX_BODY_BYTES + 1
    assert snapshot(redis_client) == before
    assert_still_serves(app, bot)


def _exchange(bot, head: bytes, chunks=()) -> bytes:
    """Send a raw HTTP request to the bot's gevent server; the status line it answers."""
    sock = socket.create_connection(("127.0.0.1", bot.server.server_port), timeout=5)
    try:
        sock.sendall(head)
        sender = gevent.spawn(lambda: [sock.sendall(chunk) for chunk in chunks])
        status_line = sock.makefile("rb").readline()
        sender.kill()
        return status_line
    finally:
        sock.close()


def _chunked(data: bytes, size=65536):
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def test_over_a_socket_a_declared_2mb_body_is_refused_without_sending_it(bot, redis_client):
    before = snapshot(redis_client)
    head = (b"POST /callback HTTP/1.1\r\nHost: bot\r\nX-Line-Signature: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
    assert _exchange(bot, head).startswith(b"HTTP/1.1 413")
    assert snapshot(redis_client) == before


def test_over_a_socket_chunked_bodies_work_and_big_ones_are_refused(bot, platform,
                                                                   redis_client, user_id):
    good = body(text_event("7時", user=user_id))
    head = (b"POST /callback HTTP/1.1\r\nHost: bot\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\nX-Line-Signature: "
            + sign(SECRET, good).encode() + b"\r\n\r\n")
    assert _exchange(bot, head, _chunked(good, size=7)).startswith(b"HTTP/1.1 200")
    bot.timer.settle()
    assert bot.store.users.load(user_id).times == ((7, 0),)

    before = snapshot(redis_client)
    big = OVER_1MB + b" " * 400_000
    head = head.replace(sign(SECRET, good).encode(), sign(SECRET, big).encode())
    assert _exchange(bot, head, _chunked(big)).startswith(b"HTTP/1.1 413")
    assert snapshot(redis_client) == before


# -- odd but ordinary text -------------------------------------------------------------------

ODD_TEXTS = [
    ("10k characters", "あ" * 10_000, texts.PLEASE_SET_TIME),
    ("emoji", "💊🐰👍🏽👨‍👩‍👧", texts.PLEASE_SET_TIME),
    ("control characters", "\x00\x01\x07\x1b[31m\x7f\r\n\t", texts.PLEASE_SET_TIME),
    ("bidi and zero-width", "\u202e\u200b\u2066\ufeff", texts.PLEASE_SET_TIME),
    ("an absurd hour", "99999999999999999999時", texts.BAD_TIME),
    ("an absurd colon time", "99999999999999999999:99999999999999999999", texts.BAD_TIME),
    ("many times", "7時" * 3000, None),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in ODD_TEXTS],
                         ids=[name for name, _, _ in ODD_TEXTS])
def test_odd_text_is_handled_as_ordinary_text(text, expected, bot, platform, user_id,
                                              redis_client, caplog):
    before = without_event_keys(snapshot(redis_client))
    assert platform.send_text(user_id, text) == 200
    bot.timer.settle()
    reply = bot.last_reply(user_id)
    if expected is None:
        assert len(reply) == 1  # whatever it answered, it answered once
    else:
        assert reply == (expected,)
        assert without_event_keys(snapshot(redis_client)) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert text[:50] not in logged and user_id not in logged


def test_an_absurd_time_changes_nothing_once_a_time_is_set(bot, platform, user_id,
                                                           redis_client):
    bot.say(user_id, "7時")
    before = without_event_keys(snapshot(redis_client))
    bot.say(user_id, "99999999999999999999時")
    assert bot.last_reply(user_id) == (texts.BAD_TIME,)
    assert without_event_keys(snapshot(redis_client)) == before


def test_a_lone_surrogate_in_the_text_is_ordinary_text(app, bot, caplog, monkeypatch):
    user = new_user_id()
    replies = []  # this file's reply tokens are not the stand-in's: record what the bot says
    monkeypatch.setattr(bot.outbox, "reply",
                        lambda token, lines, quick_reply=(): replies.append(tuple(lines)))
    raw = body(text_event("PLACEHOLDER", user=user)).replace(b"PLACEHOLDER", b"\\ud800")
    assert post(app, raw).status_int == 200
    bot.timer.settle()
    assert replies == [(texts.PLEASE_SET_TIME,)]  # answered like any text that is no time
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert_still_serves(app, bot)


# -- events from the platform that are not a user talking ------------------------------------

@pytest.mark.parametrize("source", [
    {"type": "group", "groupId": "C" + "1" * 32, "userId": "U" + "2" * 32},
    {"type": "room", "roomId": "R" + "1" * 32, "userId": "U" + "2" * 32},
    {"type": "group", "groupId": "C" + "1" * 32},
], ids=["group", "room", "group without user id"])
@pytest.mark.parametrize("kind", ["text", "postback", "join"])
def test_groups_and_rooms_get_a_polite_reply_and_nothing_is_stored(kind, source, bot, platform,
                                                                   redis_client):
    make = {
        "text": lambda: platform.make_text_event("x", "7時", source=source),
        "postback": lambda: platform.make_postback_event("x", texts.POSTBACK_TOOK, source=source),
        "join": lambda: platform.make_event("join", "x", source=source),
    }[kind]
    before = without_event_keys(snapshot(redis_client))
    assert platform.post_events([make()]) == 200
    [reply] = platform.wait_for(lambda p: p.replies, what="the one-to-one reply")
    assert reply.texts == (texts.ONE_TO_ONE_ONLY,)
    bot.timer.settle()
    assert without_event_keys(snapshot(redis_client)) == before
    assert not bot.system.awake


def test_standby_events_send_nothing(bot, platform, user_id, redis_client):
    before = snapshot(redis_client)
    for make in (lambda: platform.make_text_event(user_id, "7時", mode="standby"),
                 lambda: platform.make_follow_event(user_id, mode="standby"),
                 lambda: platform.make_postback_event(user_id, texts.POSTBACK_TOOK,
                                                      mode="standby")):
        assert platform.post_events([make()]) == 200
    bot.timer.settle()
    assert platform.replies == [] and platform.pushes == []
    assert snapshot(redis_client) == before


def test_an_event_the_bot_cannot_read_is_skipped_and_the_rest_of_its_body_handled(
        bot, platform, user_id):
    other = new_user_id()
    bot.say(other, "8時")
    unreadable = platform.make_text_event(other, "ばいばい")
    del unreadable["message"]["quoteToken"]     # the SDK's models require it
    assert platform.post_events([unreadable, platform.make_text_event(user_id, "7時"),
                                 platform.make_unfollow_event(other)]) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == ("7時0分ですね。わかりました。",)
    assert bot.store.users.load(user_id).times == ((7, 0),)
    assert bot.store.users.load(other) is None         # its unfollow was read, after the skipped text
    assert [r for r in platform.replies if r.reply_token == unreadable["replyToken"]] == []


def test_unfollow_during_the_re_asks_stops_them(bot, platform, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=15)
    assert platform.unfollow(user_id) == 200
    bot.timer.settle()
    assert bot.store.users.load(user_id) is None
    bot.advance(hours=30)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]


# -- random input with valid signatures ------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
EVENT_TYPES = st.sampled_from(["message", "postback", "follow", "unfollow", "join", "leave",
                               "unsend", "videoPlayComplete", "beacon", "membership", "new"])
FIELDS = st.sampled_from(["type", "mode", "timestamp", "source", "webhookEventId",
                          "deliveryContext", "replyToken", "message", "postback", "follow"])


@st.composite
def mutated_events(draw):
    """A well-formed event with some fields removed or replaced by random JSON."""
    kind = draw(EVENT_TYPES)
    base = text_event(draw(st.text(max_size=30))) if kind == "message" else event(
        kind, postback={"data": draw(st.sampled_from(["took", "later", "x"])
                                     | st.text(max_size=12).map("took:".__add__))},
        follow={"isUnblocked": False}, unsend={"messageId": "1"},
        videoPlayComplete={"trackingId": "t"}, beacon={"hwid": "d41d8cd98f", "type": "enter"},
        membership={"type": "joined", "membershipId": 1})
    if draw(st.booleans()):  # about half stay valid, to reach the actors
        for name in draw(st.lists(FIELDS, min_size=1, max_size=2)):
            if draw(st.booleans()):
                base.pop(name, None)
            else:
                base[name] = draw(json_values)
    if kind == "message" and draw(st.booleans()):
        base["message"] = {**text_event()["message"], "type": draw(st.sampled_from(
            ["text", "sticker", "image", "location", "nope"])),
            "text": draw(st.text() | json_values)}
    return base


def errors_logged(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(payload=json_values)
def test_random_json_bodies_never_500(payload, app, bot, caplog):
    raw = json.dumps(payload).encode("utf-8")
    assert post(app, raw).status_int in (200, 400)
    bot.timer.settle()
    assert not errors_logged(caplog)


@FUZZ
@given(events=st.lists(mutated_events(), min_size=1, max_size=2))
def test_random_events_never_500_nor_crash_an_actor(events, app, bot, caplog):
    assert post(app, body(*events)).status_int == 200   # what cannot be read is skipped
    bot.timer.settle()
    assert not errors_logged(caplog)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text_is_always_accepted(text, app, bot, caplog):
    assert post(app, body(text_event(text))).status_int == 200
    bot.timer.settle()
    assert not errors_logged(caplog)


# -- /debug ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/debug", "/debug/actors"])
def test_debug_is_not_found_without_a_token(path, bot):
    app = TestApp(create_app(channel_secret=SECRET, system=bot.system, store=bot.store,
                             outbox=bot.outbox, debug_token=None))
    app.get(path, status=404)
    app.get(path, headers={"Authorization": "Bearer anything"}, status=404)


@pytest.mark.parametrize("path", ["/debug", "/debug/actors"])
@pytest.mark.parametrize("authorization", [
    None, "", f"Bearer {DEBUG_TOKEN}x", f"Bearer {DEBUG_TOKEN[:-1]}", DEBUG_TOKEN,
    f"bearer {DEBUG_TOKEN}", f"Basic {DEBUG_TOKEN}",
    pytest.param("Bearer \xff\xfe", id="not UTF-8"),
], ids=["none", "empty", "longer", "shorter", "no scheme", "lowercase", "basic", None])
def test_debug_with_a_wrong_token_is_401(path, authorization, app, monkeypatch):
    compared = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        compared.append(True)
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    headers = {} if authorization is None else {"Authorization": authorization}
    app.get(path, headers=headers, status=401)
    assert compared  # decided by a constant-time comparison


def test_debug_actors_with_the_token_shows_the_outbox(app):
    answer = app.get("/debug/actors", headers={"Authorization": f"Bearer {DEBUG_TOKEN}"})
    assert answer.json["outbox"]["quota_exhausted"] is False
