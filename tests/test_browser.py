"""A real browser (headless Chromium) chats with the bot in simulator mode.

The bot runs in this process exactly as `python web.py` runs it without LINE credentials
(runtime.build_runtime's simulator mode), with one injected difference: its timer is the
production Timer on a wall clock moved to 07:29:58.5 in Tokyo, so the ask for 7:30 comes
1.5 s after the page's "remind me in 1 minute" button, at real speed. Nothing in the bot
knows it is being tested.

Saves docs/chat.png and docs/debug.png (the README shows them). Skips without
/usr/bin/chromium, except under CI, where it fails instead: `.ci/run` installs Chromium.
"""

import os
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from actors.timer import Timer
from runtime import build_runtime
from settings import from_environment
from web import create_app, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]
DOCS = Path(__file__).resolve().parent.parent / "docs"
# The moment the bot's clock shows just before the test presses "remind me in 1 minute":
# the page then sends 7時30分, and the ask comes 1.5 s later.
MORNING = datetime(2026, 11, 27, 7, 29, 58, 500000, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def _need(what, fix):
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test, but {what} ({fix})")
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
    settings = from_environment({"HOST": "127.0.0.1", "PORT": "0", "REDIS_URL": redis_server.url,
                                 "DATA_DIR": str(tmp_path / "data"),
                                 "LINE_TIMEOUT_SECONDS": "2"})
    timer = ShiftedTimer(MORNING - 30)
    runtime = build_runtime(settings, timer=timer)
    app = create_app(channel_secret=runtime.settings.channel_secret, system=runtime.system,
                     store=runtime.store, outbox=runtime.outbox, debug_token=runtime.settings.debug_token)
    server = make_server(app, "127.0.0.1", 0)
    server.start()
    runtime.serving("127.0.0.1", server.server_port)
    runtime.system.restore()
    try:
        yield SimpleNamespace(timer=timer, chat_url=runtime.simulator.chat_url,
                              debug_url=f"http://127.0.0.1:{server.server_port}/debug"
                                        f"?token={runtime.settings.debug_token}")
    finally:
        server.stop(timeout=1)
        runtime.system.stop(timeout=2)
        runtime.close()


@pytest.fixture
def browser(sync_api, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS,
                                              env=env)
        try:
            yield chromium
        finally:
            chromium.close()


def _has_japanese_font():
    if not shutil.which("fc-list"):
        return False
    listing = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True)
    return bool(listing.stdout.strip())


def test_chat_in_a_real_browser_set_a_time_get_asked_answer(sync_api, bot, browser, tmp_path):
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 980, "height": 660})
    page.goto(bot.chat_url)

    def bubble(sender, text):
        return page.locator(f"#messages .msg.{sender} .bubble").get_by_text(text, exact=True)

    # The first visit adds a simulated user as a friend: the bot greets (a reply).
    expect(page.locator("#messages .msg.bot .bubble").first).to_contain_text("はじめまして")
    expect(page.locator(".notice")).to_contain_text("LINE には接続していません")
    expect(page.locator(".notice")).to_contain_text("再通知は 1分ごと")

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
    page.get_by_label("メッセージ").fill("21時15分にお願い")
    page.get_by_label("メッセージ").press("Enter")
    expect(bubble("bot", "21時15分ですね。わかりました。")).to_be_visible()
    page.get_by_role("button", name="スタンプ", exact=True).click()
    page.get_by_role("button", name="スタンプ OK!").click()
    expect(page.locator("#messages .msg.user .sticker")).to_have_count(1)
    expect(page.locator("#messages .msg.bot .bubble").last).to_contain_text("使い方")
    page.locator("#users li").first.click()
    expect(bubble("bot", "よくできました")).to_be_visible()

    debug = browser.new_page(viewport={"width": 1200, "height": 420})
    debug.goto(bot.debug_url)
    rows = debug.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="taken")).to_contain_text("7:30")
    expect(rows.filter(has_text="21:15")).to_contain_text("no round yet")
    # Display names and the quota are looked up after the first view: the next refresh has them.
    expect(rows.filter(has_text="7:30")).to_contain_text("ユーザー1 (U")
    expect(debug.locator(".card", has_text="this month")).to_contain_text("1 / no limit")  # the one ask

    shots = DOCS if _has_japanese_font() else tmp_path
    if shots is tmp_path:
        print("no Japanese font (fc-list :lang=ja): screenshots not copied to docs/")
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "chat.png"))
    debug.screenshot(path=str(shots / "debug.png"), full_page=True)
