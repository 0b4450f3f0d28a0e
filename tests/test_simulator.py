"""The local LINE simulator's chat page and its API, simulator mode wiring, and /debug.

The platform's own API contract (signatures, 409 on a repeated retry key, single-use reply
tokens) is in tests/test_platform.py; this file covers what the chat page adds on top.
"""

import json
import uuid
from pathlib import Path

import bottle
import gevent
import pytest
import urllib3
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient, ApiException, Configuration, DatetimePickerAction, MessagingApi, PostbackAction,
    PushMessageRequest, QuickReply, QuickReplyItem, ReplyMessageRequest,
    ShowLoadingAnimationRequest, TextMessage,
)
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import (
    FollowEvent, LocationMessageContent, MessageEvent, PostbackEvent, StickerMessageContent,
    TextMessageContent, UnfollowEvent,
)

import debug_page
import runtime as runtime_module
from settings import SIMULATOR_SNOOZE_INTERVAL_SECONDS, Settings, from_environment
from simulator import page_shapes
from simulator.chat import ChatHub
from simulator.local import LocalLine
from simulator.platform import NoDelayWSGIServer
from tests import rich_menus
from web import create_app, make_server

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "simulator-test-token"
INFO = {"name": "管理上手のうさちゃん", "timezone": "Asia/Tokyo", "snoozeIntervalSeconds": 60,
        "maxReasks": 10}
FLEX_RECORD = Path(__file__).resolve().parent / "fixtures" / "flex_record.json"
MENU_ID = "richmenu-" + "a" * 32


class WebhookReceiver:
    """Stands in for the bot's /callback: verifies and parses with the SDK, keeps the events."""

    def __init__(self, secret):
        self.parser = WebhookParser(secret)
        self.events = []
        self.arrived = gevent.event.Event()
        app = bottle.Bottle()
        app.post("/callback", callback=self.callback)
        self.server = NoDelayWSGIServer(("127.0.0.1", 0), app, log=None)
        self.server.start()

    def callback(self):
        body = bottle.request.body.read().decode("utf-8")
        try:
            self.events.extend(self.parser.parse(body, bottle.request.get_header("X-Line-Signature")))
        except InvalidSignatureError:
            bottle.abort(400, "bad signature")
        self.arrived.set()
        return "OK"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/callback"


@pytest.fixture
def line(tmp_path):
    local = LocalLine(SECRET, TOKEN, info=INFO, history_path=str(tmp_path / "chats.json")).start()
    yield local
    local.stop()


@pytest.fixture
def receiver(line):
    bot = WebhookReceiver(SECRET)
    line.connect_bot(bot.url)
    yield bot
    bot.server.stop(timeout=0)


@pytest.fixture
def http():
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    yield pool
    pool.clear()


@pytest.fixture
def api(line):
    client = ApiClient(Configuration(host=line.base_url, access_token=TOKEN))
    yield MessagingApi(client)
    client.close()


def call(http, line, method, path, body=None, headers=None):
    """The page's API as the page calls it: JSON in, JSON out."""
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    response = http.request(method, line.base_url + path, headers=all_headers,
                            body=None if body is None else json.dumps(body).encode())
    return response.status, (json.loads(response.data) if response.data else None)


def new_user(http, line):
    status, user = call(http, line, "POST", "/api/users", {})
    assert status == 201
    return user["id"]


def push(api, to, text, quick_reply=None):
    message = TextMessage(text=text, quick_reply=quick_reply)
    api.push_message(PushMessageRequest(to=to, messages=[message]), _request_timeout=5)


def bubbles(line, user_id):
    return line.hub.texts_for(user_id)


# -- the page --------------------------------------------------------------------------------

def test_chat_page_and_its_files_are_served(line, http):
    page = http.request("GET", line.chat_url)
    assert page.status == 200
    html = page.data.decode()
    assert "ローカル シミュレーター" in html and "Nothing is sent to LINE" in html
    for name in ("chat.js", "chat.css"):
        assert http.request("GET", f"{line.base_url}/static/{name}").status == 200
    assert http.request("GET", f"{line.base_url}/static/../chat.py").status in (403, 404)
    # The LINE API paths are still the API.
    assert http.request("GET", f"{line.base_url}/v2/bot/message/push").status == 404


def test_page_api_answers_loopback_json_only(line, http, receiver):
    status, _ = call(http, line, "POST", "/api/users", None, {"Content-Type": "text/plain"})
    assert status == 415  # what a form on another site could send without a preflight
    status, _ = call(http, line, "GET", "/api/state", None, {"Host": "evil.example"})
    assert status == 403  # DNS rebinding
    assert call(http, line, "POST", "/api/users/Unobody/messages",
                {"type": "text", "text": "hi"})[0] == 404
    user_id = new_user(http, line)
    assert call(http, line, "POST", f"/api/users/{user_id}/messages",
                {"type": "text", "text": "  "})[0] == 400
    assert call(http, line, "POST", f"/api/users/{user_id}/messages", {"type": "image"})[0] == 400


# -- from the page to the bot: signed webhooks -------------------------------------------------

def test_adding_a_user_follows_and_a_text_becomes_a_signed_webhook(line, http, receiver):
    user_id = new_user(http, line)
    [follow] = receiver.events
    assert isinstance(follow, FollowEvent) and follow.source.user_id == user_id

    status, result = call(http, line, "POST", f"/api/users/{user_id}/messages",
                          {"type": "text", "text": "7時30分"})
    assert status == 200 and result["status"] == 200
    assert result["message"]["status"] == "read"  # the bot answered 200: LINE's 既読
    event = receiver.events[-1]
    assert isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent)
    assert (event.source.user_id, event.message.text) == (user_id, "7時30分")
    assert bubbles(line, user_id) == [("user", "7時30分")]


def test_sticker_and_quick_reply_postback(line, http, receiver):
    user_id = new_user(http, line)
    call(http, line, "POST", f"/api/users/{user_id}/messages",
         {"type": "sticker", "packageId": "446", "stickerId": "1988"})
    sticker = receiver.events[-1]
    assert isinstance(sticker.message, StickerMessageContent)
    assert (sticker.message.package_id, sticker.message.sticker_id) == ("446", "1988")

    call(http, line, "POST", f"/api/users/{user_id}/messages",
         {"type": "postback", "data": "took", "displayText": "飲んだ!"})
    postback = receiver.events[-1]
    assert isinstance(postback, PostbackEvent) and postback.postback.data == "took"
    # LINE shows a postback's displayText as the user's own message.
    assert bubbles(line, user_id) == [("user", "[sticker]"), ("user", "飲んだ!")]


def test_a_time_picked_becomes_a_postback_with_params_time_and_shows_nothing(line, http,
                                                                            receiver):
    user_id = new_user(http, line)
    status, result = call(http, line, "POST", f"/api/users/{user_id}/messages",
                          {"type": "postback", "data": "pick-time", "params": {"time": "08:15"}})
    assert status == 200 and result["status"] == 200
    picked = receiver.events[-1]
    assert isinstance(picked, PostbackEvent) and picked.source.user_id == user_id
    assert (picked.postback.data, picked.postback.params) == ("pick-time", {"time": "08:15"})
    assert bubbles(line, user_id) == []  # LINE shows nothing for a picker in the chat

    for wrong in ({"time": 815}, {"time": "08:15", "date": "2026-11-27"}, {"hour": "8"},
                  ["08:15"], {"time": "x" * 21}):
        assert call(http, line, "POST", f"/api/users/{user_id}/messages",
                    {"type": "postback", "data": "pick-time", "params": wrong})[0] == 400, wrong
    assert len(receiver.events) == 2  # the follow and the one time picked


def test_a_location_becomes_a_signed_location_webhook(line, http, receiver):
    user_id = new_user(http, line)
    place = {"title": "Sydney Opera House", "address": "Bennelong Point, Sydney NSW 2000",
             "latitude": -33.856784, "longitude": 151.215297}
    status, result = call(http, line, "POST", f"/api/users/{user_id}/messages",
                          {"type": "location", **place})
    assert status == 200 and result["message"]["status"] == "read"
    event = receiver.events[-1]
    assert isinstance(event, MessageEvent) and isinstance(event.message, LocationMessageContent)
    assert (event.source.user_id, event.message.title, event.message.address,
            event.message.latitude, event.message.longitude) == (user_id, *place.values())
    assert result["message"]["location"] == place  # what the page draws as a map card
    assert bubbles(line, user_id) == [("user", "[location]")]

    for wrong in ({"latitude": 91}, {"longitude": "151"}, {"latitude": True}, {"title": ""},
                  {"address": "x" * 101}):
        assert call(http, line, "POST", f"/api/users/{user_id}/messages",
                    {"type": "location", **place, **wrong})[0] == 400, wrong
    assert len(receiver.events) == 2  # the follow and the one good location


def test_block_unfollows_refuses_pushes_and_unblock_follows_again(line, http, receiver, api):
    user_id = new_user(http, line)
    assert call(http, line, "POST", f"/api/users/{user_id}/block", {}) == (
        200, {"id": user_id, "name": "ユーザー1", "blocked": True})
    assert isinstance(receiver.events[-1], UnfollowEvent)
    with pytest.raises(ApiException) as refused:
        push(api, user_id, "飲んだ?")
    assert refused.value.status == 400
    assert call(http, line, "POST", f"/api/users/{user_id}/messages",
                {"type": "text", "text": "hi"})[0] == 409  # a blocked chat has no input

    assert call(http, line, "POST", f"/api/users/{user_id}/unblock", {})[0] == 200
    again = receiver.events[-1]
    assert isinstance(again, FollowEvent) and again.follow.is_unblocked
    push(api, user_id, "飲んだ?")
    assert bubbles(line, user_id) == [("bot", "飲んだ?")]


def test_a_bot_that_cannot_be_reached_marks_the_message_unsent(line, http):
    line.connect_bot("http://127.0.0.1:9/callback")  # discard port: nothing listens
    user_id = new_user(http, line)
    status, result = call(http, line, "POST", f"/api/users/{user_id}/messages",
                          {"type": "text", "text": "7時"})
    assert status == 200 and result["status"] is None
    assert result["message"]["status"] == "failed"
    assert bubbles(line, user_id)[-1] == ("note", "ボットに接続できません(届いていません)")


# -- from the bot to the page: bubbles, live ----------------------------------------------------

def test_pushes_become_bubbles_with_their_quick_reply_buttons(line, http, receiver, api):
    user_id = new_user(http, line)
    buttons = QuickReply(items=[
        QuickReplyItem(action=PostbackAction(label="飲んだ!", data="took", display_text="飲んだ!")),
        QuickReplyItem(action=PostbackAction(label="あとで", data="later", display_text="あとで"))])
    push(api, user_id, "飲んだ?", buttons)
    [user] = call(http, line, "GET", "/api/state")[1]["users"]
    [ask] = user["messages"]
    assert (ask["from"], ask["text"], ask["via"]) == ("bot", "飲んだ?", "push")
    assert ask["quickReply"] == [
        {"type": "postback", "label": "飲んだ!", "data": "took", "displayText": "飲んだ!"},
        {"type": "postback", "label": "あとで", "data": "later", "displayText": "あとで"}]

    picker = QuickReply(items=[QuickReplyItem(action=DatetimePickerAction(
        label="時間を選ぶ", data="pick-time", mode="time", initial="07:30", min="05:00"))])
    push(api, user_id, "使い方", picker)
    [user] = call(http, line, "GET", "/api/state")[1]["users"]
    assert user["messages"][-1]["quickReply"] == [  # what the page needs to draw a picker
        {"type": "datetimepicker", "label": "時間を選ぶ", "data": "pick-time", "mode": "time",
         "initial": "07:30", "min": "05:00"}]


def test_a_flex_message_carries_its_container_to_the_page_by_push_and_by_reply(line, http,
                                                                               receiver, api):
    user_id = new_user(http, line)
    record = json.loads(FLEX_RECORD.read_text(encoding="utf-8"))
    api.push_message(PushMessageRequest.from_dict({"to": user_id, "messages": [record]}),
                     _request_timeout=5)
    event = line.platform.make_text_event(user_id, "記録")
    assert line.platform.post_events([event]) == 200
    api.reply_message(ReplyMessageRequest.from_dict(
        {"replyToken": event["replyToken"], "messages": [record]}), _request_timeout=5)

    [user] = call(http, line, "GET", "/api/state")[1]["users"]
    pushed, replied = user["messages"]
    for message, via in ((pushed, "push"), (replied, "reply")):
        assert {key: message[key] for key in ("from", "type", "text", "flex", "via")} == {
            "from": "bot", "type": "flex", "text": record["altText"], "flex": record["contents"],
            "via": via}
    assert line.platform.messages_for(user_id) == [("push", record["altText"]),
                                                   ("reply", record["altText"])]


def test_a_flex_message_the_page_cannot_draw_is_its_alt_text():
    assert page_shapes.bot_bubble({"type": "flex", "altText": "記録", "contents": {
        "type": "video"}}) == {"type": "other", "text": "記録"}
    huge = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "x" * page_shapes.MAX_FLEX_JSON_CHARS}]}}
    assert page_shapes.bot_bubble({"type": "flex", "altText": "記録", "contents": huge}) == {
        "type": "other", "text": "記録"}
    assert page_shapes.bot_bubble({"type": "image"}) == {"type": "other", "text": "[image]"}


def sse_fields(response):
    """Server-sent events from a streaming response, each as a dict of its fields."""
    buffer = b""
    for chunk in response.read_chunked(decode_content=False):
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n")
                          if ": " in line and not line.startswith(":"))
            if "data" in fields:
                yield fields


def read_events(response, until, limit=50):
    """(id, event, data) of server-sent events from a response until ``until(events)``."""
    events = []
    for fields in sse_fields(response):
        if "id" not in fields:
            continue  # the rich menu, sent apart from the numbered log
        events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
        if until(events) or len(events) >= limit:
            break
    return events


def test_server_sent_events_deliver_a_push_live(line, http, receiver, api):
    user_id = new_user(http, line)
    stream = http.request("GET", f"{line.base_url}/api/events", preload_content=False)
    try:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        push(api, user_id, "飲んだ?")
        events = read_events(stream, lambda events: events)
    finally:
        stream.release_conn()
    [(seq, kind, payload)] = events
    assert kind == "message" and payload["message"]["text"] == "飲んだ?"
    assert seq == line.hub.seq


def test_event_stream_resumes_from_last_event_id_and_resets_when_it_cannot(line, http, receiver,
                                                                           api):
    user_id = new_user(http, line)
    since = line.hub.seq
    push(api, user_id, "飲んだ?")
    push(api, user_id, "飲んだ??")
    stream = http.request("GET", f"{line.base_url}/api/events",
                          headers={"Last-Event-ID": str(since)}, preload_content=False)
    try:
        events = read_events(stream, lambda events: len(events) >= 2)
    finally:
        stream.release_conn()
    assert [payload["message"]["text"] for _, _, payload in events] == ["飲んだ?", "飲んだ??"]

    stream = http.request("GET", f"{line.base_url}/api/events?since={line.hub.seq + 100}",
                          preload_content=False)  # e.g. a page from before a restart
    try:
        [(_, kind, _)] = read_events(stream, lambda events: events)
    finally:
        stream.release_conn()
    assert kind == "reset"


MENU_ACTIONS = [{"type": "message", "label": "設定", "text": "設定教えて"},
                {"type": "postback", "data": "record", "displayText": "記録"}]


def set_default_rich_menu(platform, image=None, **fields):
    menu = rich_menus.side_by_side(2500, 843, MENU_ACTIONS, **fields)
    rich_menus.set_default(platform, MENU_ID, menu, image)


def test_the_default_rich_menu_and_its_image_are_in_the_page_api(line, http):
    installed = call(http, line, "GET", "/api/state")[1]["richMenu"]   # the bot's own menu
    assert [area["action"] for area in installed["areas"]] == [
        {"type": "datetimepicker", "label": "時間を追加", "data": "pick-time", "mode": "time"},
        *({"type": "message", "label": word, "text": word}
          for word in ("設定教えて", "記録", "見守り", "使い方"))]
    line.platform.default_rich_menu_id = None
    assert call(http, line, "GET", "/api/state")[1]["richMenu"] is None
    image = rich_menus.panels_png(2500, 843, [(6, 199, 85), (255, 255, 255)])
    set_default_rich_menu(line.platform, image)
    menu = call(http, line, "GET", "/api/state")[1]["richMenu"]
    assert menu["image"].startswith(f"/api/rich-menus/{MENU_ID}/image?v=")
    assert menu == {
        "id": MENU_ID, "size": {"width": 2500, "height": 843}, "chatBarText": "メニュー",
        "selected": False, "image": menu["image"],
        "areas": [{"bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                   "action": MENU_ACTIONS[0]},
                  {"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                   "action": MENU_ACTIONS[1]}]}
    served = http.request("GET", line.base_url + menu["image"])
    assert (served.status, served.headers["Content-Type"], served.data) == (200, "image/png", image)
    assert http.request("GET", f"{line.base_url}/api/rich-menus/richmenu-x/image").status == 404

    set_default_rich_menu(line.platform, image=b"GIF89a")  # LINE takes PNG or JPEG only
    assert call(http, line, "GET", "/api/state")[1]["richMenu"]["image"] is None
    set_default_rich_menu(line.platform, size={"width": "wide"})
    assert call(http, line, "GET", "/api/state")[1]["richMenu"] is None


def test_event_stream_sends_the_rich_menu_when_it_connects_and_when_it_changes(line, http, api):
    set_default_rich_menu(line.platform)
    stream = http.request("GET", f"{line.base_url}/api/events", preload_content=False)
    try:
        events = sse_fields(stream)
        first = next(events)
        assert first["event"] == "richmenu" and "id" not in first  # not part of the numbered log
        assert json.loads(first["data"])["richMenu"]["id"] == MENU_ID
        line.platform.default_rich_menu_id = None
        # Any request the platform answers wakes the stream, even one that adds no bubble.
        api.show_loading_animation(ShowLoadingAnimationRequest(chatId="U" + "0" * 32),
                                   _request_timeout=5)
        second = next(events)
        assert second["event"] == "richmenu" and json.loads(second["data"])["richMenu"] is None
    finally:
        stream.release_conn()
    assert line.hub.state()["richMenu"] is None


def test_history_survives_a_reload_and_a_restart(line, http, receiver, api, tmp_path):
    first = new_user(http, line)
    second = new_user(http, line)
    call(http, line, "POST", f"/api/users/{first}/messages", {"type": "text", "text": "7時"})
    push(api, first, "飲んだ?")
    call(http, line, "POST", f"/api/users/{second}/block", {})
    before = call(http, line, "GET", "/api/state")[1]
    assert [u["name"] for u in before["users"]] == ["ユーザー1", "ユーザー2"]

    line.hub.close()  # writes the file now (as a stop does)
    restarted = LocalLine(SECRET, TOKEN, info=INFO,
                          history_path=str(tmp_path / "chats.json")).start()
    try:
        after = call(http, restarted, "GET", "/api/state")[1]
        assert after["users"] == before["users"]
        assert after["seq"] == before["seq"]
        assert second in restarted.platform.faults.blocked_users
    finally:
        restarted.stop()


def test_push_to_a_user_the_page_never_made_opens_a_chat(line, api):
    stranger = "U" + uuid.uuid4().hex
    push(api, stranger, "飲んだ?")
    assert [u.id for u in line.hub.users.values()] == [stranger]
    assert bubbles(line, stranger) == [("bot", "飲んだ?")]


def test_hub_keeps_a_bounded_history(line, api):
    hub = ChatHub(line.platform, max_messages=3)
    stranger = "U" + uuid.uuid4().hex
    for k in range(5):
        push(api, stranger, f"m{k}")
    assert hub.texts_for(stranger) == [("bot", "m2"), ("bot", "m3"), ("bot", "m4")]


# -- simulator mode: `python web.py` without LINE credentials ----------------------------------

@pytest.fixture
def simulator_settings(redis_server, redis_client, tmp_path):
    return from_environment({"HOST": "127.0.0.1", "PORT": "0", "REDIS_URL": redis_server.url,
                             "DATA_DIR": str(tmp_path), "LINE_TIMEOUT_SECONDS": "2"})


def test_simulator_mode_runs_the_production_path_in_process(simulator_settings, http, capsys):
    runtime = runtime_module.build_runtime(simulator_settings)
    server = None
    try:
        settings, local = runtime.settings, runtime.simulator
        assert isinstance(local, LocalLine)
        assert settings.line_api_base_url == local.base_url  # the real SDK client, over HTTP
        assert runtime.settings.channel_secret and runtime.settings.debug_token
        assert settings.snooze_interval_seconds == SIMULATOR_SNOOZE_INTERVAL_SECONDS
        app = create_app(channel_secret=runtime.settings.channel_secret, system=runtime.system,
                         store=runtime.store, outbox=runtime.outbox,
                         debug_token=runtime.settings.debug_token)
        server = make_server(app, "127.0.0.1", 0)
        server.start()
        runtime.serving("127.0.0.1", server.server_port)
        runtime.system.start()
        banner = capsys.readouterr().out
        assert local.chat_url in banner and f"/debug?token={runtime.settings.debug_token}" in banner

        user = local.hub.add_user()  # what the page does; the greeting is the bot's reply
        local.hub.wait_for(lambda hub: len(hub.texts_for(user.id)) == 1)
        assert local.hub.texts_for(user.id)[0][1].startswith("はじめまして")
        assert local.hub.send_text(user.id, "7時30分")["status"] == 200
        local.hub.wait_for(lambda hub: ("bot", "7時30分ですね。わかりました。")
                           in hub.texts_for(user.id))

        bot = f"http://127.0.0.1:{server.server_port}"
        page = http.request("GET", f"{bot}/debug?token={runtime.settings.debug_token}")
        assert page.status == 200 and user.id in page.data.decode()
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert http.request("GET", f"{bot}/debug?token=wrong").status == 401
        assert http.request("GET", f"{bot}/debug/actors?token={runtime.settings.debug_token}").status == 401
        actors = http.request("GET", f"{bot}/debug/actors",
                              headers={"Authorization": f"Bearer {runtime.settings.debug_token}"})
        assert json.loads(actors.data)["users"][0]["times"][0]["time"] == "7:30"
    finally:
        if server is not None:
            server.stop(timeout=1)
        runtime.system.stop(timeout=2)
        runtime.close()


def test_simulator_mode_keeps_an_explicit_snooze_interval_and_debug_token(simulator_settings):
    settings = Settings(**{**simulator_settings.__dict__, "snooze_interval_seconds": 5.0,
                           "debug_token": "mine"})
    runtime = runtime_module.build_runtime(settings)
    try:
        assert runtime.settings.snooze_interval_seconds == 5.0
        assert runtime.settings.debug_token == "mine"
        assert runtime.simulator.hub.info["snoozeIntervalSeconds"] == 5.0
    finally:
        runtime.close()


def test_half_of_the_credentials_is_an_error_not_simulator_mode(simulator_settings, capsys):
    settings = Settings(**{**simulator_settings.__dict__, "channel_secret": "only-this"})
    with pytest.raises(SystemExit) as exited:
        runtime_module.build_runtime(settings)
    assert exited.value.code == 2
    assert "CHANNEL_ACCESS_TOKEN" in capsys.readouterr().err


# -- the debug page ------------------------------------------------------------------------------

def test_debug_page_shows_each_actor_and_the_due_index():
    due = 1795818600.0  # 2026-11-28 07:30 in Tokyo
    snapshot = {
        "users": [{"user": "U<script>", "tz": "Asia/Tokyo", "next_due": due, "awake": True,
                   "mailbox": 4,
                   "times": [{"time": "7:30", "day": "2026-11-27", "round": "asking", "asks": 3,
                              "reasks_sent": 2, "answered_at": None, "next_due": due},
                             {"time": "20:00", "day": "2026-11-26", "round": "late",
                              "asks": 11, "reasks_sent": 10, "answered_at": due - 3600,
                              "next_due": due + 45000}]}],
        "awake_count": 1, "due": {"count": 1, "next": [{"due": due, "user": "U<script>"}]},
        "outbox": {"quota_exhausted": True, "in_flight": 7, "asks_waiting": 350,
                   "replies_owed": 12},
    }
    html = debug_page.render(snapshot, now=due - 90, zone="Asia/Tokyo")
    assert "<script>alert" not in html and "U&lt;script&gt;" in html
    for shown in ("<b>7:30</b>", "asking", "11/28 07:30:00", "in 1 min 30 s", "awake",
                  "re-asks sent 2", "<b>20:00</b>", "late", "re-asks sent 10",
                  "answered 11/28 06:30:00", "<td class=num>4</td>", "requests in flight",
                  "<b>7</b>", "<b>350</b><span>asks waiting for a batch",
                  "<b>12</b><span>replies owed to webhooks",
                  "<b>yes</b><span>quota exhausted"):
        assert shown in html, shown
    assert 'id="snapshot"' in html and "setTimeout(refresh" in html  # refreshes itself


def test_debug_page_shows_queued_users_beyond_the_listed_ones_in_the_bots_zone():
    due = 1795818600.0  # 2026-11-28 07:30 in Tokyo, 2026-11-27 22:30 UTC
    snapshot = {"users": [], "due": {"count": 1, "next": [{"due": due, "user": "U9"}]}}
    html = debug_page.render(snapshot, now=due - 90, zone="Asia/Tokyo")
    assert "11/28 07:30:00" in html
