"""What an operator sees in the log (`heroku logs --tail`): one key=value line per webhook event
and per request to LINE, in one shape, with no message text, token or full user id."""
import logging
import re
import uuid

import pytest

from logsafe import fields, short_id
from outbox.line import LineOutbox
from tests.conftest import TOKEN
from tests.support import new_user_id

SHORT_ID = r"U[0-9a-f]{6}…"
LATENCY = r"latency_ms=\d+\.\d"


def lines(caplog, logger, level=logging.INFO):
    return [r.getMessage() for r in caplog.records
            if r.name == logger and r.levelno == level]


# -- the shape ---------------------------------------------------------------------------------

def test_fields_are_key_value_pairs_in_the_order_given():
    user = "U" + "0123456789abcdef" * 2
    assert fields(event="message", kind="text", user=user, outcome="told", latency_ms=0.4321,
                  attempt=None) == "event=message kind=text user=U012345… outcome=told latency_ms=0.4"


def test_a_value_that_would_break_the_shape_is_quoted():
    assert fields(error="Read timed out", reason="a=b", empty="") == \
        'error="Read timed out" reason="a=b" empty=""'
    assert fields(redelivered=True, recipients=500) == "redelivered=yes recipients=500"


def test_a_user_id_is_shortened_whatever_the_caller_passes():
    user = new_user_id()
    assert user not in fields(user=user)
    assert fields(user="Uabcdef…") == "user=Uabcdef…"  # already short: unchanged


# -- one line per webhook event ------------------------------------------------------------------

@pytest.fixture
def info_logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def test_each_event_gets_one_line_with_what_the_edge_did(bot, platform, user_id, info_logs):
    text = "秘密のお薬を7時30分に"
    message = platform.make_text_event(user_id, text)
    assert platform.post_events([message]) == 200
    bot.timer.settle()
    redelivered = dict(message, deliveryContext={"isRedelivery": True})
    assert platform.post_events([redelivered]) == 200
    group = platform.make_text_event(user_id, text, source={"type": "group", "groupId": "G1",
                                                            "userId": user_id})
    standby = platform.make_text_event(user_id, text, mode="standby")
    assert platform.post_events([platform.make_follow_event(user_id), group, standby]) == 200
    bot.timer.settle()

    logged = lines(info_logs, "usa_reminder.web")
    expected = [
        rf"event=message kind=text user={SHORT_ID} outcome=told {LATENCY}",
        rf"event=message kind=text user={SHORT_ID} redelivered=yes outcome=duplicate {LATENCY}",
        rf"event=follow user={SHORT_ID} outcome=told {LATENCY}",
        rf"event=message kind=text user={SHORT_ID} source=group outcome=not_one_to_one {LATENCY}",
        rf"event=message kind=text user={SHORT_ID} outcome=ignored {LATENCY}",
    ]
    assert len(logged) == len(expected), logged
    for line, pattern in zip(logged, expected):
        assert re.fullmatch(pattern, line), line
    everything = info_logs.text
    for secret in (text, user_id, message["replyToken"], group["replyToken"]):
        assert secret not in everything


def test_an_event_the_bot_cannot_read_is_one_warning_line_with_its_kind_and_why(
        bot, platform, user_id, info_logs):
    text = "秘密のお薬を7時30分に"
    unreadable = platform.make_text_event(user_id, text)
    del unreadable["message"]["quoteToken"]     # as LINE sent texts before 2023
    assert platform.post_events([unreadable, platform.make_follow_event(user_id)]) == 200
    bot.timer.settle()

    logged = lines(info_logs, "usa_reminder.web", logging.WARNING)
    assert len(logged) == 1, logged
    assert re.fullmatch(rf'event=message kind=text user={SHORT_ID} outcome=unreadable '
                        r'reason="TextMessageContent.quoteToken missing"', logged[0])
    assert re.fullmatch(rf"event=follow user={SHORT_ID} outcome=told {LATENCY}",
                        lines(info_logs, "usa_reminder.web")[0])   # the rest is handled
    for secret in (text, user_id, unreadable["replyToken"]):
        assert secret not in info_logs.text


# -- one line per request to LINE ----------------------------------------------------------------

@pytest.fixture
def outbox(platform):
    return LineOutbox(platform.base_url, TOKEN, timeout=2.0, backoff=0.01, max_backoff=0.02)


def test_each_push_multicast_and_retry_gets_one_line(outbox, platform, info_logs):
    user, key = new_user_id(), str(uuid.uuid4())
    platform.faults.fail_next(1, 500)
    outbox.push(user, ["秘密のお薬"], key)
    outbox.push(user, ["秘密のお薬"], key)                # the same key again: LINE says 409
    others = [new_user_id() for _ in range(3)]
    outbox.multicast(others, ["秘密のお薬"], str(uuid.uuid4()))

    short = short_id(user)
    # A refusal is one WARNING line, with LINE's request id to quote to LINE.
    [refused] = lines(info_logs, "outbox.line", logging.WARNING)
    assert re.fullmatch(rf"send=push recipients=1 user={short} status=500 {LATENCY} "
                        r"attempt=1 request=\S+", refused), refused
    assert [re.sub(LATENCY, "latency_ms=…", line) for line in lines(info_logs, "outbox.line")] == [
        f"send=push recipients=1 user={short} status=200 latency_ms=… attempt=2",
        f"send=push recipients=1 user={short} status=409 latency_ms=… attempt=1",
        "send=multicast recipients=3 status=200 latency_ms=… attempt=1",
    ]
    for secret in ("秘密のお薬", TOKEN, user, *others):
        assert secret not in info_logs.text


def test_a_request_that_never_got_an_answer_names_the_error(outbox, platform, info_logs):
    platform.stop()                                      # connection refused from now on
    outbox.push(new_user_id(), ["飲んだ?"], str(uuid.uuid4()))
    *logged, gave_up = lines(info_logs, "outbox.line", logging.WARNING)
    assert lines(info_logs, "outbox.line") == []
    assert len(logged) == 4                              # every attempt, none answered
    assert re.fullmatch(rf"push to {SHORT_ID} failed after 4 attempts", gave_up), gave_up
    assert all(re.fullmatch(rf"send=push recipients=1 user={SHORT_ID} "
                            rf"error=\w+ {LATENCY} attempt=\d", line) for line in logged), logged
    assert [re.search(r"error=(\w+) .* attempt=(\d)", line).groups() for line in logged] == [
        ("ConnectionRefusedError", str(n)) for n in range(1, 5)]


def test_a_reply_line_took_is_a_debug_line_one_it_refused_a_warning(bot, platform, user_id,
                                                                     caplog):
    caplog.set_level(logging.DEBUG, logger="outbox.line")
    bot.say(user_id, "設定教えて")                  # the event's own line says it was answered
    reply_token = platform.replies[-1].reply_token
    debug = lines(caplog, "outbox.line", logging.DEBUG)
    assert lines(caplog, "outbox.line") == []
    assert re.fullmatch(rf"send=reply recipients=1 status=200 {LATENCY}", debug[-1]), debug
    assert bot.outbox.reply(reply_token, ["もう一度"]) is False   # a spent token: LINE's 400
    [refused] = lines(caplog, "outbox.line", logging.WARNING)
    assert re.fullmatch(rf"send=reply recipients=1 status=400 {LATENCY} request=\S+", refused)
    assert reply_token not in caplog.text and user_id not in caplog.text
