"""A real browser (headless Chromium) chats with the bot in simulator mode, and sees what
LINE would show: Flex messages drawn (the bot's own record among them), a location sent, the
bot's rich menu under the chat, its time picker, named and weekly times, and two simulated
users where one watches the other (and gets a carousel of records).

The bot runs in this process exactly as `python web.py` runs it without LINE credentials
(runtime.build_runtime's simulator mode), with one injected difference: its timer is the
production Timer on a wall clock moved to 07:29:28.5 in Tokyo, and a test moves it on to
07:29:58.5 (bot.timer.set_now) when the ask for 7:30 should come 1.5 s later, at real speed
(the scheduler looks every second, so it sees the clock moved). Nothing in the bot knows it
is being tested. The watch test's bot is configured as an operator would
(SNOOZE_INTERVAL_SECONDS=1, MAX_REASKS=1), so an unanswered round ends 2 s after its ask.

Screenshots go to a temporary directory; `make screenshots` (SCREENSHOTS=1) writes them to
docs/ instead (chat.png, debug.png, flex.png, record.png, medicine.png, watch.png,
carousel.png: the README shows them).
Skips without /usr/bin/chromium, except under CI or SCREENSHOTS=1, where it fails instead:
`.ci/run` installs Chromium.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import urllib3
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, PushMessageRequest

from actors.timer import Timer
from runtime import build_runtime
from settings import from_environment
from tests import rich_menus
from web import create_app, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]
DOCS = Path(__file__).resolve().parent.parent / "docs"
FLEX_RECORD = Path(__file__).resolve().parent / "fixtures" / "flex_record.json"
FLEX_FEATURES = Path(__file__).resolve().parent / "fixtures" / "flex_features.json"
SCREENSHOTS = os.environ.get("SCREENSHOTS") == "1"
# The moment the bot's clock shows just before the test presses "remind me in 1 minute":
# the page then sends 7時30分, and the ask comes 1.5 s later.
MORNING = datetime(2026, 11, 27, 7, 29, 58, 500000, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def _need(what, fix):
    if os.environ.get("CI") or SCREENSHOTS:
        pytest.fail(f"CI and SCREENSHOTS=1 must run the browser test, but {what} ({fix})")
    pytest.skip(f"{what}; {fix} to run the real-browser test")


@pytest.fixture(scope="module")
def sync_api():
    if not os.path.exists(CHROMIUM):
        _need(f"there is no Chromium at {CHROMIUM}", "apt-get install chromium")
    try:
        from playwright import sync_api
    except ImportError:
        _need("Playwright for Python is not installed", "make test installs it")
    return sync_api


class ShiftedTimer(Timer):
    """The production timer on a wall clock moved by `offset` seconds (time runs at real
    speed): the test chooses what time the bot thinks it is."""

    def __init__(self, now):
        self.offset = 0.0
        self.set_now(now)

    def now(self):
        return time.time() + self.offset

    def set_now(self, epoch):
        self.offset = epoch - time.time()


@pytest.fixture
def bot(redis_server, redis_client, tmp_path):
    """`python web.py` without LINE credentials, in this process, on free ports."""
    with _running_bot(redis_server, tmp_path) as running:
        yield running


@pytest.fixture
def quick_bot(redis_server, redis_client, tmp_path):
    """The same bot with rounds that end within seconds: the ask, one re-ask a second later,
    and a second after that the round is over (simulator mode: 60 s and 10 re-asks)."""
    with _running_bot(redis_server, tmp_path, SNOOZE_INTERVAL_SECONDS="1",
                      MAX_REASKS="1") as running:
        yield running


@contextlib.contextmanager
def _running_bot(redis_server, tmp_path, **environment):
    settings = from_environment({"HOST": "127.0.0.1", "PORT": "0", "REDIS_URL": redis_server.url,
                                 "DATA_DIR": str(tmp_path / "data"),
                                 "LINE_TIMEOUT_SECONDS": "2", **environment})
    timer = ShiftedTimer(MORNING - 30)
    runtime = build_runtime(settings, timer=timer)
    app = create_app(channel_secret=runtime.settings.channel_secret, system=runtime.system,
                     store=runtime.store, outbox=runtime.outbox, debug_token=runtime.settings.debug_token)
    server = make_server(app, "127.0.0.1", 0)
    server.start()
    runtime.serving("127.0.0.1", server.server_port)
    runtime.system.start()
    try:
        yield SimpleNamespace(timer=timer, line=runtime.simulator,
                              chat_url=runtime.simulator.chat_url,
                              token=runtime.settings.channel_access_token,
                              debug_url=f"http://127.0.0.1:{server.server_port}/debug"
                                        f"?token={runtime.settings.debug_token}")
    finally:
        server.stop(timeout=1)
        runtime.system.stop(timeout=2)
        runtime.close()


@pytest.fixture(scope="module")
def browser(sync_api, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                              env=env)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 980, "height": 660})
    yield page
    page.close()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: docs/ under `make screenshots`, else a temporary directory."""
    if not SCREENSHOTS:
        return tmp_path
    if not _has_japanese_font():
        pytest.fail("SCREENSHOTS=1 needs a Japanese font (fc-list :lang=ja) for docs/*.png")
    return DOCS


def _has_japanese_font():
    if not shutil.which("fc-list"):
        return False
    listing = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True)
    return bool(listing.stdout.strip())


def _open_chat(expect, page, bot):
    """The first visit adds a simulated user as a friend and the bot greets (a reply)."""
    page.goto(bot.chat_url)
    expect(page.locator("#messages .msg.bot .bubble").first).to_contain_text("はじめまして")
    [user_id] = bot.line.hub.users
    return user_id


def _bubble(page, sender, text):
    return page.locator(f"#messages .msg.{sender} .bubble").get_by_text(text, exact=True)


def _type(page, text):
    page.get_by_label("メッセージ").fill(text)
    page.get_by_label("メッセージ").press("Enter")


def _record_webhooks(bot, monkeypatch) -> list:
    """Every event the stand-in sends the bot from now on, in order."""
    platform = bot.line.platform
    sent = []
    post_events = platform.post_events

    def recording(events, *args, **kwargs):
        sent.extend(events)
        return post_events(events, *args, **kwargs)

    monkeypatch.setattr(platform, "post_events", recording)
    return sent


def _fold_rich_menu(expect, page):
    """Tap the menu's bar, as a LINE user does to see more of the chat."""
    page.locator("#rich-menu-bar").click()
    expect(page.locator("#rich-menu-panel")).to_be_hidden()


def _take_a_dose_at_7_30(expect, page, bot):
    """The user sets 7:30 a minute ahead, is asked 1.5 s later, and taps 飲んだ!."""
    bot.timer.set_now(MORNING)
    page.get_by_role("button", name="1分後にリマインド").click()
    expect(_bubble(page, "bot", "7時30分ですね。わかりました。")).to_be_visible()
    expect(_bubble(page, "bot", "飲んだ?")).to_be_visible(timeout=8000)
    page.locator("#quick-replies button", has_text="飲んだ!").click()
    expect(_bubble(page, "bot", "よくできました")).to_be_visible()


def _watch_code(expect, page) -> str:
    """The user in the chat sends 見守り; the code, read in the bot's answer."""
    _type(page, "見守り")
    answer = page.locator("#messages .msg.bot .bubble", has_text="見守りコード")
    expect(answer).to_contain_text("24時間以内")
    return re.match(r"見守りコード: ([0-9]{6})\n", answer.inner_text()).group(1)


def _second_user_watches(expect, page, code):
    """ユーザー2 adds the bot as a friend and sends ユーザー1's code."""
    page.get_by_role("button", name="＋ 友だち追加").click()
    expect(page.locator("#chat-user")).to_have_text("ユーザー2 としてトーク中")
    expect(page.locator("#messages .msg.bot .bubble").first).to_contain_text("はじめまして")
    _type(page, code)
    expect(_bubble(page, "bot", "ユーザー1さんの見守りを始めました。飲み忘れたときにお知らせします。")
           ).to_be_visible()


def test_chat_in_a_real_browser_set_a_time_get_asked_answer(sync_api, bot, browser, page, shots):
    expect = sync_api.expect

    def bubble(sender, text):
        return _bubble(page, sender, text)

    _open_chat(expect, page, bot)
    expect(page.locator(".notice")).to_contain_text("LINE には接続していません")
    expect(page.locator(".notice")).to_contain_text("再通知は 1分ごと")
    # The bot's rich menu, installed on the stand-in at start as `make richmenu` does on LINE.
    expect(page.locator("#rich-menu")).to_be_visible()
    page.get_by_role("button", name="使い方").click()
    expect(bubble("user", "使い方")).to_be_visible()
    expect(page.locator("#messages .msg.bot .bubble", has_text="直近4週間の記録")).to_be_visible()

    # "Remind me in 1 minute" sends an ordinary text with the next minute on the bot's clock.
    bot.timer.set_now(MORNING)
    page.get_by_role("button", name="1分後にリマインド").click()
    expect(bubble("user", "7時30分")).to_be_visible()
    expect(bubble("bot", "7時30分ですね。わかりました。")).to_be_visible()

    # At 7:30 on the bot's clock (1.5 s later) the first ask arrives live, with buttons.
    expect(bubble("bot", "飲んだ?")).to_be_visible(timeout=8000)
    took = page.locator("#quick-replies button", has_text="飲んだ!")
    expect(took).to_be_visible()
    expect(page.locator("#quick-replies button", has_text="あとで")).to_be_visible()
    took.click()
    expect(bubble("user", "飲んだ!")).to_be_visible()  # the postback's displayText
    expect(bubble("bot", "よくできました")).to_be_visible()
    expect(page.locator("#quick-replies")).to_be_hidden()
    expect(page.locator(".msg.user .meta .read").first).to_have_text("既読")

    # The chat lives in the simulator: a reload shows it all again.
    page.reload()
    expect(bubble("bot", "よくできました")).to_be_visible()

    # A second simulated user: block and unblock (unfollow, follow), a sticker, an evening time.
    page.get_by_role("button", name="＋ 友だち追加").click()
    expect(page.locator("#users li")).to_have_count(2)
    expect(page.locator("#chat-user")).to_have_text("ユーザー2 としてトーク中")
    greetings = page.locator("#messages .msg.bot .bubble", has_text="はじめまして")
    expect(greetings).to_have_count(1)
    page.get_by_role("button", name="ブロック", exact=True).click()
    expect(page.locator("#blocked-bar")).to_be_visible()
    expect(page.locator("#composer")).to_be_hidden()
    page.get_by_role("button", name="ブロック解除").first.click()
    expect(page.locator("#composer")).to_be_visible()
    expect(greetings).to_have_count(2)  # a follow after unblocking is greeted again
    _type(page, "21時15分にお願い")
    expect(bubble("bot", "21時15分ですね。わかりました。")).to_be_visible()
    page.get_by_role("button", name="スタンプ", exact=True).click()
    page.get_by_role("button", name="スタンプ OK!").click()
    expect(page.locator("#messages .msg.user .sticker")).to_have_count(1)
    expect(page.locator("#messages .msg.bot .bubble").last).to_contain_text("使い方")
    page.locator("#users li").first.click()
    expect(bubble("bot", "よくできました")).to_be_visible()

    debug = browser.new_page(viewport={"width": 1680, "height": 420})  # the table's width
    debug.goto(bot.debug_url)
    rows = debug.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="taken")).to_contain_text("7:30")
    expect(rows.filter(has_text="21:15")).to_contain_text("no round yet")
    # Display names and the quota are looked up after the first view: the next refresh has them.
    expect(rows.filter(has_text="7:30")).to_contain_text("ユーザー1 (U")
    expect(debug.locator(".card", has_text="messages used")).to_contain_text("1 / no limit")  # the one ask

    page.screenshot(path=str(shots / "chat.png"))
    debug.screenshot(path=str(shots / "debug.png"), full_page=True)
    debug.close()


def test_a_named_times_ask_reads_its_name_and_its_button_answers_it(sync_api, bot, page):
    expect = sync_api.expect
    _open_chat(expect, page, bot)
    # 7:29:28.5 on the bot's clock: the page sends 7時30分, due half a minute later.
    page.get_by_role("button", name="1分後にリマインド").click()
    expect(_bubble(page, "bot", "7時30分ですね。わかりました。")).to_be_visible()
    _type(page, "7時30分の薬は血圧の薬")
    expect(_bubble(page, "bot", "7時30分の薬を「血圧の薬」にしました。")).to_be_visible()
    _type(page, "設定教えて")
    expect(_bubble(page, "bot", "7時30分(血圧の薬)に設定されています")).to_be_visible()

    # The clock moves on to 7:29:58.5 (the scheduler looks every second): the named ask
    # arrives live 1.5 s later, with the same buttons as a plain one.
    bot.timer.set_now(MORNING)
    expect(_bubble(page, "bot", "血圧の薬、飲んだ?")).to_be_visible(timeout=8000)
    expect(page.locator("#users li .preview").first).to_have_text("血圧の薬、飲んだ?")
    expect(page.locator("#quick-replies button", has_text="あとで")).to_be_visible()
    page.locator("#quick-replies button", has_text="飲んだ!").click()
    expect(_bubble(page, "user", "飲んだ!")).to_be_visible()
    expect(_bubble(page, "bot", "よくできました")).to_be_visible()
    expect(page.locator("#quick-replies")).to_be_hidden()
    expect(_bubble(page, "bot", "飲んだ?")).to_have_count(0)  # the ask was the named one only


def test_a_weekly_medicine_and_names_in_the_setting_and_the_picker_open(sync_api, bot, page,
                                                                         shots):
    expect = sync_api.expect
    page.set_viewport_size({"width": 860, "height": 760})  # tall enough for the whole setting
    _open_chat(expect, page, bot)
    picker = page.locator("#time-picker")
    page.locator("#quick-replies button", has_text="時間を選ぶ").click()
    page.get_by_label("時刻を選ぶ").fill("07:30")
    picker.get_by_role("button", name="OK").click()
    expect(_bubble(page, "bot", "7時30分ですね。わかりました。")).to_be_visible()

    _type(page, "毎週月曜 9時も")
    expect(_bubble(page, "bot", "9時0分(月)を追加しました。いまの設定: 7時30分と9時0分(月)")
           ).to_be_visible()
    _type(page, "9時の薬はメトトレキサート")
    expect(_bubble(page, "bot", "9時0分の薬を「メトトレキサート」にしました。")).to_be_visible()
    _type(page, "7時30分の薬は血圧の薬")
    expect(_bubble(page, "bot", "7時30分の薬を「血圧の薬」にしました。")).to_be_visible()
    _type(page, "設定教えて")
    expect(_bubble(page, "bot", "7時30分(血圧の薬)と9時0分(メトトレキサート・月)に設定されています")
           ).to_be_visible()

    # The picture: the menu's 時間を追加 open on a third time, the menu folded under it.
    page.locator("#rich-menu-panel").get_by_role("button", name="時間を追加").click()
    expect(picker).to_contain_text("時間を追加")  # the area's label heads the picker
    page.get_by_label("時刻を選ぶ").fill("21:00")
    _fold_rich_menu(expect, page)
    expect(picker).to_be_visible()
    expect(page.get_by_label("時刻を選ぶ")).to_have_value("21:00")
    page.get_by_label("時刻を選ぶ").blur()
    page.screenshot(path=str(shots / "medicine.png"))


def test_the_record_flex_message_renders_as_a_calendar(sync_api, bot, page, shots):
    expect = sync_api.expect
    user_id = _open_chat(expect, page, bot)
    record = json.loads(FLEX_RECORD.read_text(encoding="utf-8"))
    with ApiClient(Configuration(host=bot.line.base_url, access_token=bot.token)) as client:
        request = PushMessageRequest.from_dict({"to": user_id, "messages": [record]})
        MessagingApi(client).push_message(request, _request_timeout=5)

    calendar = page.locator("#messages .msg.bot .flex-bubble")
    expect(calendar).to_have_count(1)
    header = calendar.locator(".flex-header > .flex-box")
    expect(header).to_contain_text("記録")
    expect(header).to_have_css("background-color", "rgb(6, 199, 85)")
    expect(header.get_by_text("11/4〜12/1 (直近28日)")).to_have_css(
        "color", "rgba(255, 255, 255, 0.8)")  # #FFFFFFCC
    days = calendar.locator(".flex-body .flex-box.horizontal > .flex-box")
    expect(days).to_have_count(28)
    expect(days.first).to_have_text("4○")
    today = days.last
    expect(today).to_have_text("1…")
    expect(today).to_have_css("border-top-width", "2px")
    expect(today).to_have_css("border-top-color", "rgb(6, 199, 85)")
    counts = calendar.locator(".flex-body > .flex-box > .flex-box.horizontal").last
    expect(counts.locator(".flex-text")).to_have_text(["○ 20日", "△ 3日", "× 2日"])
    # A calendar, not a list: 4 rows of 7 cells, one under the other (today's border makes
    # its cell a few px wider, as in LINE, whose boxes share a row by flex).
    boxes = days.evaluate_all("cells => cells.map(c => c.getBoundingClientRect().toJSON())")
    rows = [boxes[week * 7:week * 7 + 7] for week in range(4)]
    assert len({round(row[0]["top"]) for row in rows}) == 4
    for row in rows:
        assert len({round(cell["top"]) for cell in row}) == 1
        assert all(left["right"] <= right["left"] for left, right in zip(row, row[1:]))
    for column in zip(*rows):
        assert max(cell["left"] for cell in column) - min(cell["left"] for cell in column) < 5
    assert calendar.bounding_box()["width"] == 300  # a mega bubble, as in LINE
    # The list of chats shows the altText, as LINE's does.
    expect(page.locator("#users li .preview").first).to_have_text(record["altText"])
    _fold_rich_menu(expect, page)
    page.screenshot(path=str(shots / "flex.png"))


def test_the_record_after_a_dose_taken_today_is_the_bots_own_calendar(sync_api, bot, page,
                                                                      shots):
    expect = sync_api.expect
    _open_chat(expect, page, bot)
    _take_a_dose_at_7_30(expect, page, bot)

    page.locator("#rich-menu-panel").get_by_role("button", name="記録").click()
    expect(_bubble(page, "user", "記録")).to_be_visible()
    calendar = page.locator("#messages .msg.bot .flex-bubble")
    expect(calendar).to_have_count(1)
    expect(calendar.locator(".flex-header")).to_contain_text("10/31〜11/27 (直近28日)")
    days = calendar.locator(".flex-body .flex-box.horizontal > .flex-box")
    expect(days).to_have_count(28)
    expect(days.first).to_have_text("31·")  # nothing asked before today
    today = days.last
    expect(today).to_have_text("27○")
    expect(today).to_have_css("border-top-width", "2px")
    expect(today).to_have_css("border-top-color", "rgb(6, 199, 85)")
    expect(today).to_have_css("background-color", "rgb(232, 248, 238)")  # #E8F8EE, taken
    counts = calendar.locator(".flex-body > .flex-box > .flex-box.horizontal").last
    expect(counts.locator(".flex-text")).to_have_text(["○ 1日", "△ 0日", "× 0日"])
    expect(page.locator("#users li .preview").first).to_have_text(
        "記録(直近28日): ○1日 △0日 ×0日")

    _fold_rich_menu(expect, page)
    page.screenshot(path=str(shots / "record.png"))


def test_flex_messages_are_drawn_as_line_draws_them_and_unknown_parts_draw_nothing(
        sync_api, bot, page):
    expect = sync_api.expect
    user_id = _open_chat(expect, page, bot)
    features = json.loads(FLEX_FEATURES.read_text(encoding="utf-8"))
    # Raw JSON rather than through the SDK: the page must also cope with what LINE adds later.
    sent = urllib3.request("POST", f"{bot.line.base_url}/v2/bot/message/push",
                           json={"to": user_id, "messages": [features]},
                           headers={"Authorization": f"Bearer {bot.token}"}, timeout=5)
    assert sent.status == 200

    bubbles = page.locator("#messages .msg.bot .flex-carousel > .flex-bubble")
    expect(bubbles).to_have_count(2)
    first, second = bubbles.nth(0), bubbles.nth(1)
    left, right = first.bounding_box(), second.bounding_box()
    assert (left["width"], right["width"]) == (260, 260)  # kilo
    assert left["y"] == right["y"] and right["x"] > left["x"] + left["width"]
    assert left["height"] == right["height"]  # a carousel's bubbles are as tall as the tallest

    body = first.locator(".flex-body > .flex-box")
    expect(body).to_have_css("padding-top", "12px")  # paddingAll: lg
    heading = first.locator(".flex-text", has_text="大きな見出し")
    expect(heading).to_have_css("font-size", "22px")
    expect(heading).to_have_css("font-weight", "700")
    expect(heading).to_have_css("color", "rgba(30, 42, 51, 0.5)")  # #1E2A3380
    struck = first.locator(".flex-text", has_text="13pxの斜体")
    expect(struck).to_have_css("font-size", "13px")
    expect(struck).to_have_css("font-style", "italic")
    expect(struck).to_have_css("text-decoration-line", "line-through")
    wrapped = first.locator(".flex-text p", has_text="一行目")
    expect(wrapped).to_have_css("text-align", "end")
    assert wrapped.evaluate("p => p.getClientRects().length && p.offsetHeight") > 30  # 2 lines
    cut = first.locator(".flex-text p", has_text="折り返さない")
    assert cut.evaluate("p => p.scrollWidth > p.clientWidth"
                        " && getComputedStyle(p).textOverflow === 'ellipsis'")
    tag = first.get_by_text("<b>タグはそのまま</b>", exact=True)
    expect(tag).to_be_visible()  # text, never HTML
    expect(tag).to_have_css("color", "rgb(17, 17, 17)")  # a colour that is not one is ignored
    expect(first.locator("b")).to_have_count(0)
    expect(first.get_by_text("知らない部品")).to_have_count(0)
    expect(first.locator(".flex-spacer")).to_have_css("height", "16px")
    expect(first.locator(".flex-separator")).to_have_css("border-top-color", "rgb(0, 0, 255)")

    row = first.locator(".flex-box.horizontal", has_text="左")
    expect(row).to_have_css("margin-top", "20px")
    row_box, far = row.bounding_box(), row.get_by_text("右").bounding_box()
    assert abs((far["x"] + far["width"]) - (row_box["x"] + row_box["width"])) < 1  # filler
    label, value = (first.locator(".flex-box.baseline .flex-text").nth(k).bounding_box()
                    for k in (0, 1))
    assert abs(value["width"] / label["width"] - 3) < 0.05  # flex 1 : 3
    red = first.locator(".flex-text span", has_text="赤い")
    expect(red).to_have_css("color", "rgb(220, 38, 38)")

    footer = first.locator(".flex-footer")
    expect(footer).to_have_css("background-color", "rgb(255, 244, 214)")
    expect(footer).to_have_css("border-top-color", "rgb(255, 0, 0)")
    button = footer.get_by_role("button", name="設定を見る")
    expect(button).to_have_css("height", "40px")
    expect(button).to_have_css("background-color", "rgb(23, 201, 80)")
    expect(second.locator(".flex-header > .flex-box")).to_have_css(
        "background-color", "rgb(6, 199, 85)")

    button.click()  # a message action sends its text as the user's message
    expect(_bubble(page, "user", "設定教えて")).to_be_visible()
    expect(_bubble(page, "bot", "設定されてないですよ")).to_be_visible()


def test_a_picked_place_goes_to_the_bot_as_a_location_message(sync_api, bot, page, monkeypatch):
    expect = sync_api.expect
    sent = _record_webhooks(bot, monkeypatch)
    user_id = _open_chat(expect, page, bot)
    page.get_by_role("button", name="位置情報", exact=True).click()
    page.get_by_role("button", name="位置情報 ロンドン").click()

    card = page.locator("#messages .msg.user .location-card")
    expect(card).to_contain_text("Trafalgar Square")
    expect(card).to_contain_text("London WC2N 5DN")
    expect(page.locator(".msg.user .meta .read")).to_have_text("既読")  # the bot took it (200)
    expect(page.locator("#messages .msg.bot")).to_have_count(2)     # and answered it
    event = sent[-1]
    assert (event["type"], event["source"]["userId"]) == ("message", user_id)
    assert {key: value for key, value in event["message"].items() if key != "id"} == {
        "type": "location", "title": "Trafalgar Square",
        "address": "Trafalgar Sq, London WC2N 5DN, UK",
        "latitude": 51.508039, "longitude": -0.128069}


def test_a_time_picked_with_the_picker_sets_then_adds_a_time(sync_api, bot, page,
                                                             monkeypatch):
    expect = sync_api.expect
    sent = _record_webhooks(bot, monkeypatch)
    user_id = _open_chat(expect, page, bot)
    picker = page.locator("#time-picker")
    expect(picker).to_be_hidden()

    # Under the greeting, as LINE shows a quick reply: a button that opens a time picker.
    page.locator("#quick-replies button", has_text="時間を選ぶ").click()
    expect(picker).to_be_visible()
    page.get_by_label("時刻を選ぶ").fill("07:30")
    picker.get_by_role("button", name="OK").click()
    expect(picker).to_be_hidden()
    expect(_bubble(page, "bot", "7時30分ですね。わかりました。")).to_be_visible()
    expect(page.locator("#messages .msg.user")).to_have_count(0)  # a picker shows nothing
    picked = sent[-1]
    assert (picked["type"], picked["source"]["userId"]) == ("postback", user_id)
    assert picked["postback"] == {"data": "pick-time", "params": {"time": "07:30"}}

    # The rich menu's 時間を追加 is the same picker; キャンセル sends nothing.
    menu = page.locator("#rich-menu-panel")
    menu.get_by_role("button", name="時間を追加").click()
    picker.get_by_role("button", name="キャンセル").click()
    expect(picker).to_be_hidden()
    menu.get_by_role("button", name="時間を追加").click()
    page.get_by_label("時刻を選ぶ").fill("21:15")
    page.get_by_label("時刻を選ぶ").press("Enter")
    expect(_bubble(page, "bot", "21時15分を追加しました。いまの設定: 7時30分と21時15分")
           ).to_be_visible()
    assert [event["postback"]["params"] for event in sent if event["type"] == "postback"] == [
        {"time": "07:30"}, {"time": "21:15"}]


def test_a_carousel_is_a_row_of_bubbles_that_scrolls(sync_api, bot, page):
    expect = sync_api.expect
    user_id = _open_chat(expect, page, bot)
    bubbles = [{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": f"ユーザー{n}"}]}} for n in range(1, 6)]
    carousel = {"type": "flex", "altText": "記録", "contents": {"type": "carousel",
                                                                "contents": bubbles}}
    sent = urllib3.request("POST", f"{bot.line.base_url}/v2/bot/message/push",
                           json={"to": user_id, "messages": [carousel]},
                           headers={"Authorization": f"Bearer {bot.token}"}, timeout=5)
    assert sent.status == 200

    row = page.locator("#messages .msg.bot .flex-carousel")
    cards = row.locator(":scope > .flex-bubble")
    expect(cards).to_have_count(5)
    boxes = [cards.nth(k).bounding_box() for k in range(5)]
    assert len({box["y"] for box in boxes}) == 1                       # one row
    assert all(a["x"] + a["width"] < b["x"] for a, b in zip(boxes, boxes[1:]))
    assert row.evaluate("row => row.scrollWidth > row.clientWidth")   # wider than the chat
    expect(cards.last.get_by_text("ユーザー5")).not_to_be_in_viewport()
    row.evaluate("row => { row.scrollLeft = row.scrollWidth; }")
    expect(cards.last.get_by_text("ユーザー5")).to_be_in_viewport()


def test_a_watchers_record_is_a_carousel_of_their_own_calendar_then_the_watched(
        sync_api, bot, page, shots):
    expect = sync_api.expect
    page.set_viewport_size({"width": 860, "height": 760})  # a chat narrower than two calendars
    users = page.locator("#users li")
    _open_chat(expect, page, bot)
    code = _watch_code(expect, page)
    _take_a_dose_at_7_30(expect, page, bot)  # today is marked in ユーザー1's record

    # ユーザー2 watches ユーザー1, has a time of their own, and asks for the record.
    _second_user_watches(expect, page, code)
    _type(page, "21時")
    expect(_bubble(page, "bot", "21時0分ですね。わかりました。")).to_be_visible()
    page.locator("#rich-menu-panel").get_by_role("button", name="記録").click()
    expect(_bubble(page, "user", "記録")).to_be_visible()

    # One message: a row of calendars, ユーザー2's own first, then ユーザー1's.
    row = page.locator("#messages .msg.bot .flex-carousel")
    expect(row).to_have_count(1)
    calendars = row.locator(":scope > .flex-bubble")
    expect(calendars).to_have_count(2)
    own, theirs = calendars.nth(0), calendars.nth(1)
    expect(own.locator(".flex-header")).to_contain_text("記録")
    expect(own.locator(".flex-header")).not_to_contain_text("さんの記録")
    expect(theirs.locator(".flex-header")).to_contain_text("ユーザー1さんの記録")
    cells = []
    for calendar, today in ((own, "27…"), (theirs, "27○")):  # 21:00 is still to come
        calendar.locator(".flex-header").get_by_text("10/31〜11/27 (直近28日)").wait_for()
        days = calendar.locator(".flex-body .flex-box.horizontal > .flex-box")
        expect(days).to_have_count(28)
        expect(days.last).to_have_text(today)
        cells.append(days)
    expect(theirs.locator(".flex-body > .flex-box > .flex-box.horizontal").last
           .locator(".flex-text")).to_have_text(["○ 1日", "△ 0日", "× 0日"])
    expect(users.nth(1).locator(".preview")).to_have_text(
        "記録(直近28日): ○0日 △0日 ×0日\nユーザー1さんの記録(直近28日): ○1日 △0日 ×0日")
    left, right = own.bounding_box(), theirs.bounding_box()
    assert left["y"] == right["y"] and right["x"] > left["x"] + left["width"]  # side by side
    assert (left["width"], right["width"]) == (300, 300)                      # mega bubbles

    # Wider than the chat: the row scrolls sideways to the last calendar.
    _fold_rich_menu(expect, page)
    assert row.evaluate("row => row.scrollWidth > row.clientWidth")
    own_days, their_days = cells
    expect(own_days.first).to_be_in_viewport(ratio=1)
    expect(their_days.last).not_to_be_in_viewport()  # ユーザー1's today
    page.screenshot(path=str(shots / "carousel.png"))
    row.evaluate("row => { row.scrollLeft = row.scrollWidth; }")
    expect(their_days.last).to_be_in_viewport(ratio=1)
    expect(own_days.first).not_to_be_in_viewport()


def test_the_default_rich_menu_sits_under_the_chat_and_its_areas_send_their_text(
        sync_api, bot, page):
    expect = sync_api.expect
    platform = bot.line.platform
    menu = rich_menus.side_by_side(800, 270, [
        {"type": "message", "label": "設定", "text": "設定教えて"},
        {"type": "message", "label": "記録", "text": "記録"}], selected=True)
    image = rich_menus.panels_png(800, 270, [(6, 199, 85), (255, 227, 236)])
    rich_menus.set_default(platform, "richmenu-" + "0" * 32, menu, image)
    _open_chat(expect, page, bot)

    bar = page.locator("#rich-menu-bar")
    panel = page.locator("#rich-menu-panel")
    expect(bar).to_have_text("メニュー")
    expect(panel).to_be_visible()  # "selected": shown open
    picture = panel.locator("img")
    assert picture.evaluate("img => img.decode().then(() => img.naturalWidth)") == 800
    frame = panel.bounding_box()
    assert abs(frame["width"] / frame["height"] - 800 / 270) < 0.02
    right = panel.get_by_role("button", name="記録").bounding_box()
    assert abs(right["x"] - (frame["x"] + frame["width"] / 2)) < 1

    panel.get_by_role("button", name="設定").click()
    expect(_bubble(page, "user", "設定教えて")).to_be_visible()
    expect(_bubble(page, "bot", "設定されてないですよ")).to_be_visible()

    bar.click()  # the bar folds the menu away, like LINE's
    expect(panel).to_be_hidden()
    bar.click()
    expect(panel).to_be_visible()

    # The bot takes its default menu away: the open page follows at the next change.
    platform.default_rich_menu_id = None
    _type(page, "設定教えて")
    expect(page.locator("#rich-menu")).to_be_hidden()


def test_family_watch_between_two_users_and_the_alert_when_a_dose_is_missed(
        sync_api, quick_bot, browser, page, shots):
    expect = sync_api.expect
    bot = quick_bot
    users = page.locator("#users li")
    _open_chat(expect, page, bot)

    # ユーザー1 asks for a code; ユーザー2 adds the bot as a friend and sends the six digits.
    code = _watch_code(expect, page)
    _second_user_watches(expect, page, code)
    expect(users.first.locator(".badge")).to_have_text("1")  # ユーザー1 was told, by a push
    users.first.click()
    expect(_bubble(page, "bot", "ユーザー2さんが見守りを始めました。")).to_be_visible()

    # ユーザー1 sets 7:30, is asked and asked again, and never answers.
    bot.timer.set_now(MORNING)
    page.get_by_role("button", name="1分後にリマインド").click()
    expect(_bubble(page, "bot", "7時30分ですね。わかりました。")).to_be_visible()
    expect(_bubble(page, "bot", "飲んだ?")).to_be_visible(timeout=8000)
    expect(_bubble(page, "bot", "飲んだ??")).to_be_visible(timeout=5000)

    # A second after the last re-ask the round is over, and ユーザー2 hears of it.
    alert = "ユーザー1さんが7時30分の薬をまだ飲んでいないようです。"
    expect(users.nth(1).locator(".preview")).to_have_text(alert, timeout=5000)
    expect(users.nth(1).locator(".badge")).to_have_text("1")
    users.nth(1).click()
    expect(_bubble(page, "bot", alert)).to_be_visible()
    expect(users.first.locator(".preview")).to_have_text("飲んだ??")

    # The picture: each user's chat in a frame of its own, side by side. The frames' page is
    # served on the chat's origin (the chat keeps its state in localStorage, which a page of
    # another origin's frame may not use).
    both = browser.new_page(viewport={"width": 1520, "height": 660})
    frame = '<iframe src="/" style="width:760px;height:660px;border:0"></iframe>'
    side_by_side = urllib.parse.urljoin(bot.chat_url, "/side-by-side")
    both.route(side_by_side, lambda route: route.fulfill(
        content_type="text/html", body='<body style="margin:0;display:flex">' + frame * 2))
    both.goto(side_by_side)
    for number, last in ((1, "飲んだ??"), (2, alert)):
        chat = both.frame_locator("iframe").nth(number - 1)
        chat.locator("#users li").nth(number - 1).click()
        expect(chat.locator("#chat-user")).to_have_text(f"ユーザー{number} としてトーク中")
        expect(chat.locator("#messages .msg .bubble").last).to_have_text(last)
        _fold_rich_menu(expect, chat)
    both.screenshot(path=str(shots / "watch.png"))
    both.close()

