"""The LINE platform stand-in, driven by the real line-bot-sdk v3 client and webhook parser."""

import json
import time
import uuid
from datetime import datetime, timezone

import bottle
import freezegun
import gevent
import pytest
import urllib3
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    FlexBox,
    FlexBubble,
    FlexMessage,
    FlexText,
    MessageAction,
    MessagingApi,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ServiceException, UnauthorizedException
from linebot.v3.webhook import SignatureValidator, WebhookParser
from linebot.v3.webhooks import (
    FollowEvent,
    GroupSource,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)

from simulator.platform import ApiRequest, LinePlatform, NoDelayWSGIServer, Push
from simulator.signing import sign

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "test-channel-access-token"
USER = "U" + "a" * 32
OTHER_USER = "U" + "b" * 32
TIMEOUT = 5  # _request_timeout for every SDK call


@pytest.fixture
def platform():
    line = LinePlatform(channel_secret=SECRET, channel_token=TOKEN).start()
    try:
        yield line
    finally:
        line.stop()


def make_api(base_url, token=TOKEN):
    return ApiClient(Configuration(host=base_url, access_token=token))


@pytest.fixture
def api(platform):
    client = make_api(platform.base_url)
    try:
        yield MessagingApi(client)
    finally:
        client.rest_client.pool_manager.clear()
        client.close()


class WebhookReceiver:
    """A tiny bot edge: verifies and parses webhooks with the SDK and keeps the events."""

    def __init__(self, secret):
        self.parser = WebhookParser(secret)
        self.events = []
        self.app = bottle.Bottle()
        self.app.post("/callback", callback=self.callback)
        self.server = NoDelayWSGIServer(("127.0.0.1", 0), self.app, log=None)

    def callback(self):
        signature = bottle.request.get_header("X-Line-Signature")
        if signature is None:
            bottle.abort(400, "missing signature")
        body = bottle.request.body.read().decode("utf-8")
        try:
            self.events.extend(self.parser.parse(body, signature))
        except InvalidSignatureError:
            bottle.abort(400, "bad signature")
        return "OK"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/callback"


@pytest.fixture
def bot(platform):
    receiver = WebhookReceiver(SECRET)
    receiver.server.start()
    platform.webhook_url = receiver.url
    try:
        yield receiver
    finally:
        receiver.server.stop(timeout=0)


def push(api, to=USER, text="飲んだ?", retry_key=None, **message_fields):
    request = PushMessageRequest(to=to, messages=[TextMessage(text=text, **message_fields)])
    return api.push_message(request, x_line_retry_key=retry_key, _request_timeout=TIMEOUT)


def reply(api, token, text="よくできました"):
    request = ReplyMessageRequest(replyToken=token, messages=[TextMessage(text=text)])
    return api.reply_message(request, _request_timeout=TIMEOUT)


def error_message(exc: ApiException) -> str:
    return json.loads(exc.body)["message"]


# -- push ------------------------------------------------------------------------------------


def test_push_is_accepted_and_recorded(platform, api):
    key = str(uuid.uuid4())
    response = push(api, retry_key=key)
    assert len(response.sent_messages) == 1 and response.sent_messages[0].id.isdigit()
    assert response.sent_messages[0].quote_token
    [recorded] = platform.pushes
    assert (recorded.to, recorded.texts, recorded.retry_key) == (USER, ("飲んだ?",), key)
    assert platform.requests == [ApiRequest("/v2/bot/message/push", 200)]
    assert platform.messages_for(USER) == [("push", "飲んだ?")]


def test_push_answers_with_a_request_id_header(platform, api):
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="飲んだ?")])
    response = api.push_message_with_http_info(request, x_line_retry_key=key, _request_timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["x-line-request-id"]


def test_repeated_retry_key_is_409_with_the_original_and_records_once(platform, api):
    key = str(uuid.uuid4())
    original = push(api, retry_key=key)
    with pytest.raises(ApiException) as raised:
        push(api, retry_key=key)
    assert raised.value.status == 409
    body = json.loads(raised.value.body)
    assert body["message"] == "The retry key is already accepted"
    assert body["sentMessages"][0]["id"] == original.sent_messages[0].id
    assert raised.value.headers["x-line-accepted-request-id"]
    assert len(platform.pushes) == 1
    assert [r.status for r in platform.requests] == [200, 409]


def test_multicast_records_each_recipient_once_per_retry_key_and_skips_blockers(platform, api):
    users = ["U" + uuid.uuid4().hex for _ in range(3)]
    platform.faults.blocked_users.add(users[1])
    key = str(uuid.uuid4())
    request = MulticastRequest(to=users, messages=[TextMessage(text="飲んだ?")])
    api.multicast(request, x_line_retry_key=key, _request_timeout=TIMEOUT)
    with pytest.raises(ApiException) as raised:
        api.multicast(request, x_line_retry_key=key, _request_timeout=TIMEOUT)
    assert raised.value.status == 409
    assert [(p.to, p.retry_key) for p in platform.pushes] == [(users[0], key), (users[2], key)]


def test_push_without_retry_key_is_fine(platform, api):
    push(api)
    push(api)
    assert [p.retry_key for p in platform.pushes] == [None, None]


def test_retry_key_that_is_not_a_uuid_is_400(platform, api):
    with pytest.raises(ApiException) as raised:
        push(api, retry_key="not-a-uuid")
    assert raised.value.status == 400
    assert platform.pushes == []


def test_wrong_token_is_401(platform):
    with make_api(platform.base_url, token="wrong") as client:
        with pytest.raises(UnauthorizedException) as raised:
            push(MessagingApi(client))
    assert raised.value.status == 401
    assert error_message(raised.value).startswith("Authentication failed")
    assert platform.pushes == []


def test_quick_reply_labels_and_non_text_messages_are_recorded(platform, api):
    quick_reply = QuickReply(items=[
        QuickReplyItem(action=PostbackAction(label="飲んだ", data="taken", displayText="飲んだ")),
        QuickReplyItem(action=MessageAction(label="あとで", text="あとで")),
    ])
    flex = FlexMessage(altText="記録", contents=FlexBubble(body=FlexBox(
        layout="vertical", contents=[FlexText(text="カレンダー")])))
    request = PushMessageRequest(to=USER, messages=[
        TextMessage(text="飲んだ?", quickReply=quick_reply), flex])
    api.push_message(request, _request_timeout=TIMEOUT)
    [recorded] = platform.pushes
    assert recorded.texts == ("飲んだ?", "記録")  # a Flex message by its altText
    assert recorded.quick_reply == ("飲んだ", "あとで")


# -- faults ----------------------------------------------------------------------------------


def test_fail_next_gives_service_exception_then_success(platform, api):
    platform.faults.fail_next(1)
    with pytest.raises(ServiceException) as raised:
        push(api)
    assert raised.value.status == 500
    assert error_message(raised.value) == "Internal Server Error"
    push(api)
    assert len(platform.pushes) == 1
    assert [r.status for r in platform.requests] == [500, 200]


def test_fail_first_attempt_fails_each_new_retry_key_once(platform, api):
    platform.faults.fail_first_attempt = True
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for key in (first, second):
        with pytest.raises(ServiceException):
            push(api, retry_key=key)
        push(api, retry_key=key)
    assert [p.retry_key for p in platform.pushes] == [first, second]


def test_hang_next_provokes_a_client_timeout_and_the_retry_gets_409(platform, api):
    platform.faults.hang_next(1, seconds=0.3)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="飲んだ?")])
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        api.push_message(request, x_line_retry_key=key, _request_timeout=0.05)
    with pytest.raises(ApiException) as raised:
        push(api, retry_key=key)
    assert raised.value.status == 409
    assert len(platform.pushes) == 1


def test_exhausted_quota_refuses_pushes_but_not_replies(platform, api, bot):
    platform.faults.quota_exhausted = True
    with pytest.raises(ApiException) as raised:
        push(api)
    assert raised.value.status == 429
    assert error_message(raised.value) == "You have reached your monthly limit."
    platform.send_text(USER, "設定教えて")
    reply(api, bot.events[-1].reply_token)
    assert platform.pushes == [] and len(platform.replies) == 1


def test_rate_limit_answers_429_when_exceeded_within_a_second(platform, api):
    platform.faults.rate_limit = 5
    statuses = []
    for _ in range(platform.faults.rate_limit + 5):
        try:
            push(api)
            statuses.append(200)
        except ApiException as exc:
            statuses.append(exc.status)
            assert error_message(exc) == "Too Many Requests"
    assert statuses == [200] * 5 + [429] * 5
    assert len(platform.pushes) == 5


def test_push_to_a_user_who_blocked_the_bot_is_refused(platform, api):
    platform.faults.blocked_users = {OTHER_USER}
    with pytest.raises(ApiException) as raised:
        push(api, to=OTHER_USER)
    assert raised.value.status == 400
    assert error_message(raised.value) == "Failed to send messages"
    push(api, to=USER)
    assert [p.to for p in platform.pushes] == [USER]


def test_latency_is_added_to_each_call_and_calls_overlap(platform, api):
    platform.faults.latency = 0.1
    started = time.clock_gettime(time.CLOCK_MONOTONIC)
    calls = [gevent.spawn(push, api, text=f"#{i}") for i in range(20)]
    gevent.joinall(calls, raise_error=True)
    elapsed = time.clock_gettime(time.CLOCK_MONOTONIC) - started
    assert 0.1 <= elapsed < 0.5
    assert len(platform.pushes) == 20


def test_loading_animation_is_202(platform, api):
    request = ShowLoadingAnimationRequest(chatId=USER, loadingSeconds=5)
    response = api.show_loading_animation_with_http_info(request, _request_timeout=TIMEOUT)
    assert response.status_code == 202
    assert platform.requests == [ApiRequest("/v2/bot/chat/loading/start", 202)]


# -- reply tokens ----------------------------------------------------------------------------


def test_reply_token_is_single_use(platform, api, bot):
    platform.send_text(USER, "7時半")
    token = bot.events[-1].reply_token
    reply(api, token, "7時30分ですね。わかりました。")
    with pytest.raises(ApiException) as raised:
        reply(api, token)
    assert raised.value.status == 400
    assert error_message(raised.value) == "Invalid reply token"
    [recorded] = platform.replies
    assert (recorded.to, recorded.texts, recorded.reply_token) == (
        USER, ("7時30分ですね。わかりました。",), token)
    assert platform.messages_for(USER) == [("reply", "7時30分ですね。わかりました。")]


def test_unknown_reply_token_is_400(platform, api):
    with pytest.raises(ApiException) as raised:
        reply(api, "f" * 32)
    assert raised.value.status == 400
    assert platform.replies == []


def test_expired_reply_token_is_400(platform, api, bot):
    platform.reply_token_ttl = 0.0
    platform.send_text(USER, "hi")
    with pytest.raises(ApiException) as raised:
        reply(api, bot.events[-1].reply_token)
    assert raised.value.status == 400


def test_frozen_time_stamps_records_but_does_not_expire_reply_tokens(platform, api, bot):
    frozen = datetime(2030, 1, 2, 7, 0, tzinfo=timezone.utc)
    with freezegun.freeze_time(frozen) as clock:
        platform.send_text(USER, "hi")
        assert bot.events[-1].timestamp == int(frozen.timestamp() * 1000)
        clock.tick(3600)
        reply(api, bot.events[-1].reply_token)
        push(api)
    assert platform.replies[0].at == platform.pushes[0].at == frozen.timestamp() + 3600


# -- webhooks --------------------------------------------------------------------------------


def test_signature_matches_the_sdk_validator():
    body = '{"destination":"U0","events":[]}'
    assert SignatureValidator(SECRET).validate(body, sign(SECRET, body.encode()))


def test_text_webhook_parses_to_a_text_message_event(platform, bot):
    assert platform.send_text(USER, "7時半に") == 200
    [event] = bot.events
    assert isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)
    assert event.message.text == "7時半に"
    assert isinstance(event.source, UserSource) and event.source.user_id == USER
    assert event.mode.value == "active" and event.delivery_context.is_redelivery is False
    assert len(event.webhook_event_id) == 26 and event.reply_token


def test_sticker_location_postback_follow_unfollow_parse_to_their_sdk_classes(platform, bot):
    assert platform.send_sticker(USER) == 200
    assert platform.send_location(USER, "東京駅", "東京都千代田区丸の内1丁目", 35.681236,
                                  139.767125) == 200
    assert platform.send_postback(USER, "action=taken") == 200
    assert platform.follow(OTHER_USER) == 200
    assert platform.unfollow(OTHER_USER) == 200
    sticker, location, postback, follow, unfollow = bot.events
    assert isinstance(sticker, MessageEvent) and isinstance(sticker.message, StickerMessageContent)
    assert (sticker.message.package_id, sticker.message.sticker_id) == ("446", "1988")
    assert isinstance(location.message, LocationMessageContent)
    assert (location.message.title, location.message.address, location.message.latitude,
            location.message.longitude) == ("東京駅", "東京都千代田区丸の内1丁目", 35.681236,
                                            139.767125)
    assert isinstance(postback, PostbackEvent) and postback.postback.data == "action=taken"
    assert isinstance(follow, FollowEvent) and follow.follow.is_unblocked is False
    assert isinstance(unfollow, UnfollowEvent) and not hasattr(unfollow, "reply_token")
    assert [e.source.user_id for e in bot.events] == [USER, USER, USER, OTHER_USER, OTHER_USER]


def test_reply_tokens_from_each_kind_of_event_are_accepted_once(platform, api, bot):
    platform.send_sticker(USER)
    platform.send_postback(USER, "action=taken")
    platform.follow(OTHER_USER)
    for event in bot.events:
        reply(api, event.reply_token)
        with pytest.raises(ApiException):
            reply(api, event.reply_token)
    assert [r.to for r in platform.replies] == [USER, USER, OTHER_USER]


def test_bad_or_missing_signature_is_rejected_by_the_bot(platform, bot):
    event = platform.make_text_event(USER, "hi")
    assert platform.post_events([event], signature="bm90IGEgc2lnbmF0dXJl") == 400
    assert platform.post_events([event], include_signature=False) == 400
    assert bot.events == []


def test_redelivery_keeps_the_webhook_event_id(platform, bot):
    event = platform.make_text_event(USER, "hi")
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    assert platform.post_events([event]) == 200
    assert platform.post_events([redelivered]) == 200
    first, second = bot.events
    assert first.webhook_event_id == second.webhook_event_id
    assert second.delivery_context.is_redelivery is True


def test_group_source_and_raw_body(platform, bot):
    group_event = platform.make_text_event(
        USER, "hi", source={"type": "group", "groupId": "C" + "1" * 32, "userId": USER})
    assert platform.post_events([group_event]) == 200
    assert isinstance(bot.events[-1].source, GroupSource)
    assert platform.post_events([], raw_body=b'{"destination":"U0","events":[]}') == 200


def test_webhook_event_ids_are_unique():
    line = LinePlatform(channel_secret=SECRET, channel_token=TOKEN)
    ids = {line.make_text_event(USER, "x")["webhookEventId"] for _ in range(1000)}
    assert len(ids) == 1000


# -- waiting -------------------------------------------------------------------------------


def test_wait_for_wakes_when_a_push_is_recorded(platform, api):
    platform.faults.latency = 0.05
    sender = gevent.spawn(push, api)
    recorded = platform.wait_for(lambda p: p.pushes)
    assert recorded == [Push(USER, ("飲んだ?",), None, recorded[0].at)]
    sender.get(timeout=TIMEOUT)


def test_wait_for_times_out_with_a_useful_message(platform, api):
    push(api)
    with pytest.raises(AssertionError) as raised:
        platform.wait_for(lambda p: len(p.pushes) == 2, timeout=0.05, what="a second push")
    message = str(raised.value)
    assert "a second push" in message and "1 pushes" in message
