"""webhook_events reads webhook events as line-bot-sdk's models do: the same events accepted,
with the same values, the same ones refused; the everyday ones without loading the SDK."""
import json
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linebot.v3 import webhooks as sdk

import webhook_events
from tests.support import sdk_reading
from webhook_events import InvalidEvent, read_event

USER = "U" + "4" * 32


def our_reading(raw):
    try:
        return read_event(raw)
    except InvalidEvent:
        return "invalid"


def base(type_, **fields):
    return {"type": type_, "mode": "active", "timestamp": 1795725600000,
            "source": {"type": "user", "userId": USER},
            "webhookEventId": "01JD" + uuid.uuid4().hex[:22].upper(),
            "deliveryContext": {"isRedelivery": False}, "replyToken": uuid.uuid4().hex,
            **fields}


EVERYDAY = {
    "text": base("message", message={"id": "1", "type": "text", "text": "7時",
                                     "quoteToken": "q"}),
    "text with emoji": base("message", message={
        "id": "1", "type": "text", "text": "$ 飲んだ", "quoteToken": "q",
        "emojis": [{"index": 0, "length": 1, "productId": "p", "emojiId": "001"}]}),
    "sticker": base("message", message={
        "id": "2", "type": "sticker", "packageId": "446", "stickerId": "1988",
        "stickerResourceType": "STATIC", "keywords": ["OK", "Yes"], "quoteToken": "q"}),
    "location": base("message", message={"id": "3", "type": "location", "latitude": 35.6,
                                         "longitude": 139, "address": "東京"}),
    "button": base("postback", postback={"data": "took:1795734000"}),
    "button with params": base("postback", postback={"data": "x", "params": {"a": "b"}}),
    "follow": base("follow", follow={"isUnblocked": True}),
    "unfollow": {k: v for k, v in base("unfollow").items() if k != "replyToken"},
    "from a group": base("message", source={"type": "group", "groupId": "C1"},
                         message={"id": "1", "type": "text", "text": "x", "quoteToken": "q"}),
    "standby, redelivered": base("message", mode="standby",
                                 deliveryContext={"isRedelivery": True},
                                 message={"id": "1", "type": "text", "text": "x",
                                          "quoteToken": "q"}),
}
ELSEWHERE = {
    "join": base("join", source={"type": "group", "groupId": "C1"}),
    "unsend": base("unsend", unsend={"messageId": "1"}),
    "membership": base("membership", membership={"type": "joined", "membershipId": 1}),
    "mention": base("message", message={
        "id": "1", "type": "text", "text": "@bot", "quoteToken": "q",
        "mention": {"mentionees": [{"type": "user", "index": 0, "length": 4,
                                    "userId": USER}]}}),
}


def sticker(**fields):
    return base("message", message={"id": "2", "type": "sticker", "packageId": "1",
                                    "stickerId": "2", "stickerResourceType": "STATIC",
                                    "quoteToken": "q", **fields})


EDGES = {
    "15 keywords": (sticker(keywords=["k"] * 15), True),
    "16 keywords": (sticker(keywords=["k"] * 16), False),
    "sticker text of 100": (sticker(text="あ" * 100), True),
    "sticker text of 101": (sticker(text="あ" * 101), False),
    "params not text": (base("postback", postback={"data": "x", "params": {"a": 1}}), False),
    "timestamp true": (base("unfollow", timestamp=True), False),
    "timestamp float": (base("unfollow", timestamp=1.0), False),
    "follow without token": (base("follow", replyToken=None, follow={"isUnblocked": False}),
                             False),
    "message with a null token": (dict(EVERYDAY["text"], replyToken=None), True),
    "no source": ({k: v for k, v in EVERYDAY["text"].items() if k != "source"}, True),
    "user source without id": (base("unfollow", source={"type": "user"}), True),
    "redelivery as 0": (base("unfollow", deliveryContext={"isRedelivery": 0}), False),
    "latitude as text": (base("message", message={"id": "3", "type": "location",
                                                  "latitude": "35.6", "longitude": 139.7}),
                         False),
    "longitude true": (base("message", message={"id": "3", "type": "location",
                                                "latitude": 35.6, "longitude": True}), False),
}


@pytest.mark.parametrize("name", EDGES)
def test_edges_of_the_sdks_types(name):
    raw, valid = EDGES[name]
    assert our_reading(raw) == sdk_reading(raw)
    assert (our_reading(raw) != "invalid") is valid


def test_the_known_types_are_the_sdks():
    assert webhook_events.EVENT_TYPES == set(sdk.Event._Event__discriminator_value_class_map)
    assert webhook_events.MESSAGE_TYPES == set(
        sdk.MessageContent._MessageContent__discriminator_value_class_map)


READ_HERE = ["MessageEvent", "PostbackEvent", "FollowEvent", "UnfollowEvent", "UserSource",
             "GroupSource", "RoomSource", "DeliveryContext", "TextMessageContent", "Emoji",
             "StickerMessageContent", "LocationMessageContent", "PostbackContent",
             "FollowDetail"]


def test_the_only_validator_beyond_types_in_the_models_read_here_is_repeated_here():
    validators = {(name, field) for name in READ_HERE
                  for field in getattr(sdk, name).__validators__}
    assert validators == {("StickerMessageContent", "sticker_resource_type")}
    for name in READ_HERE:
        model = getattr(sdk, name)
        assert not model.__pre_root_validators__ and not model.__post_root_validators__
        assert model.__config__.extra == "ignore"     # unknown JSON names are skipped
    [check] = sdk.StickerMessageContent.__validators__["sticker_resource_type"]
    [allowed] = [const for const in check.func.__code__.co_consts if isinstance(const, tuple)]
    assert webhook_events.STICKER_RESOURCE_TYPES == set(allowed)


@pytest.mark.parametrize("name", EVERYDAY)
def test_everyday_events_are_read_here_as_the_sdk_reads_them(name, monkeypatch):
    def no_sdk(raw):
        raise AssertionError("handed to the SDK")

    monkeypatch.setattr(webhook_events, "_read_with_sdk", no_sdk)
    raw = EVERYDAY[name]
    assert our_reading(raw) == sdk_reading(raw)


@pytest.mark.parametrize("name", ELSEWHERE)
def test_other_events_are_the_sdks_own_reading(name):
    raw = ELSEWHERE[name]
    read = our_reading(raw)
    assert read == sdk_reading(raw) and read not in (None, "invalid")


def test_a_location_reads_with_its_coordinates():
    location = read_event(EVERYDAY["location"]).message
    assert isinstance(location, webhook_events.LocationMessageContent)
    assert (location.latitude, location.longitude, location.title) == (35.6, 139, None)


def test_the_attributes_the_bot_reads():
    event = read_event(EVERYDAY["text"])
    assert isinstance(event, webhook_events.MessageEvent)
    assert isinstance(event.source, webhook_events.UserSource)
    assert isinstance(event.message, webhook_events.TextMessageContent)
    assert (event.mode, event.source.user_id, event.message.text) == ("active", USER, "7時")
    assert event.delivery_context.is_redelivery is False
    assert read_event(EVERYDAY["button"]).postback.data == "took:1795734000"
    assert isinstance(read_event(ELSEWHERE["join"]), webhook_events.JoinEvent)


# -- generated events: accepted and refused alike ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
    | st.sampled_from(["user", "group", "text", "sticker", "active", "standby", "", "x" * 101,
                      "STATIC", "POPUP"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
NESTED = ["source", "message", "postback", "follow", "deliveryContext"]
INNER_KEYS = ["type", "userId", "groupId", "roomId", "id", "text", "quoteToken", "emojis",
              "packageId", "stickerId", "stickerResourceType", "keywords", "quotedMessageId",
              "markAsReadToken", "data", "params", "isUnblocked", "isRedelivery", "mention",
              "latitude", "longitude", "title", "address"]
OUTER_KEYS = ["type", "mode", "timestamp", "source", "webhookEventId", "deliveryContext",
              "replyToken", "message", "postback", "follow"]


@st.composite
def mutated(draw):
    raw = json.loads(json.dumps(draw(st.sampled_from(list(EVERYDAY.values())
                                                     + list(ELSEWHERE.values())))))
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            key = draw(st.sampled_from(OUTER_KEYS))
            target = raw
        else:
            target = raw.get(draw(st.sampled_from(NESTED)))
            if not isinstance(target, dict):
                continue
            key = draw(st.sampled_from(INNER_KEYS))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    if not isinstance(raw.get("type"), str):
        raw["type"] = draw(st.sampled_from(["message", "postback", "follow", "nope"]))
    return raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated())
def test_generated_events_are_read_as_the_sdk_reads_them(raw):
    assert our_reading(raw) == sdk_reading(raw)


def test_start_up_and_everyday_webhooks_do_not_load_the_sdk():
    """Importing the bot, reading the everyday events and building the outbox's messages
    leave line-bot-sdk unloaded (its import costs ~1.3 s and ~60 MB)."""
    events = [event for event in EVERYDAY.values()]
    script = f"""
from gevent import monkey
monkey.patch_all()
import json, sys
import web, runtime, inbound
from outbox import line
events = inbound.parse_webhook(json.dumps({{"events": {events!r}}}).encode()).events
assert len(events) == {len(events)}
line._reply_messages(["よくできました"])
line._messages(("飲んだ?",), (("飲んだ!", "took:1"),))
print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"linebot", "pydantic", "urllib3"}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
