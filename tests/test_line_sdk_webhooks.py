"""The webhook bodies of LINE's own SDK test suites and of the Messaging API reference
(tests/fixtures/line_webhooks/: sources, commits and licences in its README), each sent to
the whole bot as a signed webhook: the answer, what the bot did, and line-bot-sdk's own
parser reading the events the bot reads, field by field.

Older bodies carry events without a field that line-bot-sdk's models now require (a text
without `quoteToken`, a follow without `follow`, events without `mode`): the bot skips
those, logs each once, and handles the rest of the body."""
import copy
import json
import os
import secrets

import pytest
from linebot.v3.models.events import UnknownEvent
from linebot.v3.webhook import WebhookParser
from pydantic.v1 import ValidationError

from chat import texts
from inbound import parse_webhook
from simulator.line_api import new_webhook_event_id
from simulator.signing import sign
from tests.conftest import SECRET
from tests.support import new_user_id, sdk_reading
from webhook_events import LocationMessageContent, UserSource, from_sdk

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "line_webhooks")
SOURCES = ["python", "go", "nodejs", "php", "reference"]
SET = (12, 0)   # every sender's time before a body comes (noon: not yet asked, anywhere)
ZONES = {  # the places of the fixtures' location messages
    (35.65910807942215, 139.70372892916203): "Asia/Tokyo",
    (35.67966, 139.73669): "Asia/Tokyo",
    (-34.12, 134.23): "Australia/Adelaide",
}


def fixture_bodies():
    """(name, body) of every fixture body, as stored."""
    for source in SOURCES:
        with open(os.path.join(FIXTURES, f"{source}.json"), encoding="utf-8") as stored:
            entries = json.load(stored)["bodies"]
        for number, entry in enumerate(entries):
            yield f"{source} {entry['path']} #{number}", entry["body"]


def fresh(body):
    """The body with new webhook event ids, reply tokens and user ids (the fixtures reuse
    theirs across events and bodies); the same user id within the body stays one user."""
    body, users = copy.deepcopy(body), {}
    for event in body["events"]:
        if isinstance(event.get("webhookEventId"), str):
            event["webhookEventId"] = new_webhook_event_id()
        if isinstance(event.get("replyToken"), str):
            event["replyToken"] = secrets.token_hex(16)
        source = event.get("source")
        if isinstance(source, dict) and isinstance(source.get("userId"), str):
            source["userId"] = users.setdefault(source["userId"], new_user_id())
    return body


def encoded(body) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


# -- what a LINE user sees (README's chat table) ---------------------------------------------

def what_the_bot_says(event, has_time):
    """The reply to one event the SDK reads, None for none."""
    source = event.source
    if event.mode != "active":
        return None
    if not isinstance(source, UserSource):
        in_a_group = source is not None and event.type in ("message", "join")
        return texts.ONE_TO_ONE_ONLY if in_a_group else None
    if not source.user_id:
        return None
    if event.type == "follow":
        return texts.greeting(600)
    if event.type == "message" and isinstance(event.message, LocationMessageContent):
        return texts.zone_set(ZONES[event.message.latitude, event.message.longitude])
    if event.type == "message":  # no fixture text is a time or a command
        return texts.HELP if has_time else texts.PLEASE_SET_TIME
    return None  # unfollow, beacons, ...; every postback in the fixtures is another tool's


def expected(events, senders):
    """The reply to each reply token, and who still has their time after the body."""
    replies, has_time = {}, set(senders)
    for raw in events:
        event = sdk_reading(raw)
        if event in (None, "invalid"):
            continue  # a type the SDK does not know, or an event it cannot read: skipped
        reply = what_the_bot_says(event, getattr(event.source, "user_id", None) in has_time)
        if reply is not None:
            replies[raw["replyToken"]] = reply
        if event.type == "unfollow" and event.mode == "active":
            has_time.discard(event.source.user_id)
    return replies, has_time


def senders(events):
    return {event["source"]["userId"] for event in events
            if isinstance(event.get("source"), dict) and event["source"].get("type") == "user"
            and isinstance(event["source"].get("userId"), str)}


def test_every_body_is_answered_200_and_the_events_the_sdk_reads_are_handled(
        bot, platform, caplog, subtests):
    for name, stored in fixture_bodies():
        with subtests.test(body=name):
            body = fresh(stored)
            events, users = body["events"], senders(body["events"])
            for user in users:
                bot.say(user, "12時")
            replies_before = len(platform.replies)
            caplog.clear()
            want, still_set = expected(events, users)

            assert platform.post_events(events, raw_body=encoded(body)) == 200
            bot.timer.settle()
            platform.wait_for(lambda p: {r.reply_token for r in p.replies} >= set(want),
                              what=f"the replies to {name}")

            got = {r.reply_token: r.texts for r in platform.replies[replies_before:]}
            assert got == {token: (reply,) for token, reply in want.items()}
            assert platform.pushes == []
            for user in users:
                record = bot.store.users.load(user)
                assert (record.times if record else ()) == ((SET,) if user in still_set else ())
            unreadable = [r.levelname for r in caplog.records
                          if "outcome=unreadable" in r.getMessage()]
            assert unreadable == ["WARNING"] * sum(sdk_reading(raw) == "invalid" for raw in events)


# -- the bot and line-bot-sdk's parser read the same events ----------------------------------

def sdk_parse(raw: bytes):
    """The events line-bot-sdk's WebhookParser reads in the body, as webhook_events' classes
    (None for each it makes an UnknownEvent of). It gives up on a whole body when such an
    event also lacks a field every event has (it cannot build the UnknownEvent): then its
    models read event by event, as the parser would have."""
    text = raw.decode("utf-8")
    try:
        parsed = WebhookParser(SECRET).parse(text, sign(SECRET, raw))
    except ValidationError:
        read = [sdk_reading(event) for event in json.loads(text)["events"]]
        return [None if event == "invalid" else event for event in read]
    return [None if isinstance(event, UnknownEvent) else from_sdk(event) for event in parsed]


def test_the_bot_reads_each_body_as_line_bot_sdks_parser_does(subtests):
    for name, stored in fixture_bodies():
        with subtests.test(body=name):
            raw = encoded(fresh(stored))
            webhook = parse_webhook(raw)
            assert webhook.events == [event for event in sdk_parse(raw) if event is not None]
            refused = [event for event in json.loads(raw)["events"]
                       if sdk_reading(event) == "invalid"]
            assert [(u.type, u.kind) for u in webhook.unreadable] == [
                (event["type"], (event.get("message") or {}).get("type")) for event in refused]


# -- postbacks the bot did not make ------------------------------------------------------------

def fixture_postbacks():
    """Every distinct `postback` object in the fixtures: another tool's rich menu, pickers."""
    found = []
    for _, body in fixture_bodies():
        found += [event["postback"] for event in body["events"]
                  if event.get("type") == "postback" and event["postback"] not in found]
    return found


LOOK_ALIKES = [{"data": data} for data in (
    "took:", "later:x", "took:1795734000:1", "took:²", "took:１７９５７３４０００", "Took", "飲んだ")]
FOREIGN = fixture_postbacks() + LOOK_ALIKES


@pytest.mark.parametrize("postback", FOREIGN, ids=lambda postback: json.dumps(
    postback, ensure_ascii=False))
def test_a_postback_the_bot_did_not_make_is_no_answer_and_gets_no_reply(postback, bot, platform,
                                                                        user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)                                  # 飲んだ? is open
    tapped = platform.make_postback_event(user_id, postback["data"], postback=postback)
    assert platform.post_events([tapped]) == 200
    bot.timer.settle()
    assert [r for r in platform.replies if r.reply_token == tapped["replyToken"]] == []

    [ask] = bot.pushes(user_id)
    [_, (_, later)] = texts.ask_buttons(ask.at)
    bot.tap(user_id, later)                                  # the bot's own あとで still works
    assert bot.last_reply(user_id) == (texts.LATER,)
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]   # the round is still open


def test_in_a_group_a_postback_the_bot_did_not_make_gets_no_reply(bot, platform):
    group = {"type": "group", "groupId": "C" + "1" * 32, "userId": "U" + "2" * 32}
    [reference_picker] = [p for p in FOREIGN if p["data"] == "storeId=12345"]
    tapped = platform.make_postback_event("x", "x", source=group, postback=reference_picker)
    text = platform.make_text_event("x", "7時", source=group)
    assert platform.post_events([tapped, text]) == 200       # both answered at once, in turn
    platform.wait_for(lambda p: any(r.reply_token == text["replyToken"] for r in p.replies),
                      what="the one-to-one reply to the text")
    assert [r.reply_token for r in platform.replies] == [text["replyToken"]]   # none to the tap
