"""The outbox's own HTTP client (outbox/http.py) puts on the wire exactly what the
line-bot-sdk's generated client sends for the same request, reads LINE's answers as the
outbox expects, keeps connections alive, and never gives a connection away on a timeout."""
import json
import socket

import gevent
import pytest
from linebot.v3.messaging import (
    ApiClient, Configuration, DatetimePickerAction, FlexMessage, MessagingApi, MulticastRequest,
    PostbackAction, PushMessageRequest, QuickReply, QuickReplyItem, ReplyMessageRequest,
    TextMessage,
)

from bench.standin import StandIn, serve
from bench.variants import SdkHttp
from chat.texts import UNDER_HELP, TimePicker, ask_buttons
from outbox import line
from outbox.http import LineHttp, NotSent
from outbox.line import LineOutbox, PushResult

TOKEN = "wire-token"
KEYS = ["0b0e3a3c-5b7e-4a8e-9d7e-1f2a3b4c5d6" + c for c in "abcdef"]
FLEX = {"type": "flex", "altText": "記録", "contents": {
    "type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "○ \"quoted\" \\ 💊", "size": "sm"}]}}}


class RecordingStandIn(StandIn):
    """The bench's LINE stand-in, keeping every request as it arrived."""

    def reset(self):
        super().reset()
        self.seen = []

    def handle(self, method, path, headers, body, arrived):
        if not path.startswith("/_bench/"):
            self.seen.append((method, path, headers, body))
        return super().handle(method, path, headers, body, arrived)


@pytest.fixture
def standin():
    recording = RecordingStandIn(TOKEN)
    server = serve(recording)
    recording.base_url = f"http://127.0.0.1:{server.server_port}"
    yield recording
    server.stop(timeout=0)


def sdk_text(text, buttons=()):
    quick = QuickReply(items=[QuickReplyItem(action=sdk_action(item))
                              for item in buttons]) if buttons else None
    return TextMessage(text=text, quick_reply=quick)


def sdk_action(item):
    if isinstance(item, TimePicker):
        return DatetimePickerAction(label=item.label, data=item.data, mode="time")
    label, data = item
    return PostbackAction(label=label, data=data, display_text=label)


BUTTONS = ask_buttons(1795734000)
TEXTS = ["飲んだ?", 'a "quote", a \\ and 💊\n']


def send_all(outbox):
    """A push with buttons, a multicast, a reply with a Flex message, one with texts and one
    with the time picker."""
    assert outbox.push("U9", TEXTS[:1], KEYS[0], BUTTONS) is PushResult.DELIVERED
    assert outbox.multicast(["U1", "U2"], TEXTS, KEYS[1]) is PushResult.DELIVERED
    assert outbox.reply("token-1", [TEXTS[1], FLEX]) is True
    assert outbox.reply("token-2", TEXTS) is True
    assert outbox.reply("token-3", TEXTS, UNDER_HELP) is True


def sent(standin, send):
    """What `send()` put on the wire; the stand-in forgets keys and tokens afterwards."""
    standin.reset()
    send()
    return standin.seen


def test_the_outbox_sends_what_it_sent_through_the_sdk_client_byte_for_byte(standin):
    before = sent(standin, lambda: send_all(LineOutbox(
        standin.base_url, TOKEN, timeout=2.0, transport=SdkHttp(standin.base_url, TOKEN))))
    now = sent(standin, lambda: send_all(LineOutbox(standin.base_url, TOKEN, timeout=2.0)))
    assert len(now) == 5
    assert now == before      # method, path, every header and its value, the body's bytes


def test_the_outbox_sends_what_the_sdks_own_methods_send(standin):
    sdk = MessagingApi(ApiClient(Configuration(host=standin.base_url, access_token=TOKEN)))

    def send_with_sdk():
        sdk.push_message(PushMessageRequest(to="U9", messages=[sdk_text(TEXTS[0], BUTTONS)]),
                         x_line_retry_key=KEYS[0], _request_timeout=2)
        sdk.multicast(MulticastRequest(to=["U1", "U2"], messages=[
            sdk_text(text) for text in TEXTS]), x_line_retry_key=KEYS[1], _request_timeout=2)
        sdk.reply_message(ReplyMessageRequest(reply_token="token-1", messages=[
            sdk_text(TEXTS[1]), FlexMessage.from_dict(FLEX)]), _request_timeout=2)
        sdk.reply_message(ReplyMessageRequest(reply_token="token-2", messages=[
            sdk_text(text) for text in TEXTS]), _request_timeout=2)
        sdk.reply_message(ReplyMessageRequest(reply_token="token-3", messages=[
            sdk_text(TEXTS[0]), sdk_text(TEXTS[1], UNDER_HELP)]), _request_timeout=2)

    theirs = sent(standin, send_with_sdk)
    ours = sent(standin, lambda: send_all(LineOutbox(standin.base_url, TOKEN, timeout=2.0)))
    assert [request[:3] for request in ours] == [request[:3] for request in theirs]
    push, multicast, flex_reply, text_reply, picker_reply = zip(ours, theirs)
    for mine, sdks in (push, flex_reply, text_reply, picker_reply):
        assert mine[3] == sdks[3]
    # The SDK's MulticastRequest model writes "messages" before "to": the same JSON.
    assert json.loads(multicast[0][3]) == json.loads(multicast[1][3])
    assert json.loads(push[0][3])["messages"][0]["quickReply"]["items"][0]["action"][
        "data"] == BUTTONS[0][1]


@pytest.mark.parametrize("texts, buttons", [
    (("飲んだ?",), ()), (("飲んだ???",), ask_buttons(1795734000)),
    (("a", "b\n", "\x00\u202e"), (("x", "y"),)), (("",), ()),
    (("使い方",), UNDER_HELP), (("x",), (("x", "y"), TimePicker("z", "w"))),
])
def test_message_objects_are_the_sdk_models(texts, buttons):
    expected = [sdk_text(text) for text in texts[:-1]] + [sdk_text(texts[-1], buttons)]
    assert list(line._messages(texts, buttons)) == [m.to_dict() for m in expected]


def test_answers_come_back_with_status_body_and_request_id(standin):
    http = LineHttp(standin.base_url, TOKEN, concurrency=2, timeout=2.0)
    payload = json.dumps({"to": "U1", "messages": [{"type": "text", "text": "x"}]}).encode()
    headers = (("X-Line-Retry-Key", KEYS[2]),)
    first = http.post(line.PUSH_PATH, payload, 2.0, headers)
    assert first.status == 200 and first.request_id == "bench"
    again = http.post(line.PUSH_PATH, payload, 2.0, headers)
    assert again.status == 409 and again.message() == "The retry key is already accepted"
    wrong = LineHttp(standin.base_url, "not-the-token", timeout=2.0)
    assert wrong.post(line.PUSH_PATH, payload, 2.0).status == 401


def test_connections_are_kept_alive(standin):
    accepted = []
    http = LineHttp(standin.base_url, TOKEN, concurrency=4, timeout=2.0)
    real_create = http._pool._create_socket
    http._pool._create_socket = lambda: accepted.append(1) or real_create()
    for i in range(5):
        assert http.post(line.REPLY_PATH, line.dumps({"replyToken": f"t{i}", "messages": [
            {"type": "text", "text": "x"}]}), 2.0).status == 200
    assert len(accepted) == 1


def test_a_hang_is_a_timeout_and_never_holds_a_connection():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)                       # accepts connections, never answers
    port = silent.getsockname()[1]
    try:
        http = LineHttp(f"http://127.0.0.1:{port}", TOKEN, concurrency=2, timeout=5.0)
        for _ in range(4):                  # more timeouts than connections in the pool
            # A hang on the answer; on a loaded machine the connect itself may take the
            # 0.05 s: then the request never went (NotSent). Either way no connection is kept.
            with pytest.raises((TimeoutError, NotSent)):
                http.post(line.PUSH_PATH, b"{}", 0.05)
        assert http._pool._semaphore.counter == 2   # every connection given back
    finally:
        silent.close()


def test_a_refused_connection_is_an_oserror():
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    http = LineHttp(f"http://127.0.0.1:{port}", TOKEN, timeout=1.0)
    with pytest.raises(OSError):
        http.post(line.PUSH_PATH, b"{}", 1.0)


def test_a_broken_answer_is_a_connection_error():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_garbage():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"this is not HTTP\r\n\r\n")
        conn.close()

    talker = gevent.spawn(answer_garbage)
    try:
        http = LineHttp(f"http://127.0.0.1:{server.getsockname()[1]}", TOKEN, timeout=2.0)
        with pytest.raises(ConnectionError):
            http.post(line.PUSH_PATH, b"{}", 2.0)
    finally:
        talker.kill()
        server.close()


def test_only_http_and_https_urls():
    with pytest.raises(ValueError):
        LineHttp("ftp://api.line.me", TOKEN)
    assert LineHttp("https://api.line.me", TOKEN)._headers.startswith("Host: api.line.me\r\n")
    assert LineHttp("http://127.0.0.1:8081", TOKEN)._headers.startswith(
        "Host: 127.0.0.1:8081\r\n")


def test_a_picker_is_never_taken_for_a_button_with_its_label_and_data():
    picker = TimePicker()
    button = (picker.label, picker.data)

    def action_type(item):
        return line._messages(("x",), (item,))[0]["quickReply"]["items"][0]["action"]["type"]

    assert (action_type(picker), action_type(button)) == ("datetimepicker", "postback")
    assert (action_type(button), action_type(picker)) == ("postback", "datetimepicker")
