"""LINE's account-level API as the bot uses it: users' display names (profile API) and the
month's message quota, through the real SDK against the stand-in, and both on /debug."""
import json
import logging
import uuid

import gevent
import gevent.event
import pytest
import urllib3
from freezegun import freeze_time
from gevent.pool import Pool
from linebot.v3.messaging import (
    ApiClient, ApiException, Configuration, MessagingApi, MulticastRequest, PushMessageRequest,
    ReplyMessageRequest, TextMessage,
)

import debug_page
from outbox.account import AccountApi
from outbox.http import LineHttp
from outbox.line import LineOutbox, PushResult
from outbox.profiles import DisplayNames
from outbox.quota import MessageQuota, QuotaUsage
from simulator.line_api import PROFILE_PATH, QUOTA_CONSUMPTION_PATH
from simulator.local import LocalLine
from tests.conftest import SECRET, TOKEN
from tests.support import new_user_id
from tests.test_platform import WebhookReceiver

TIMEOUT = 5


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def client_for(base_url, token=TOKEN):
    """An SDK client set up as the outbox sets up its own: no retries inside urllib3."""
    configuration = Configuration(host=base_url, access_token=token)
    configuration.retries = False
    return ApiClient(configuration)


@pytest.fixture
def api(platform):
    with client_for(platform.base_url) as client:
        yield MessagingApi(client)


@pytest.fixture
def account(platform):
    """The bot's own client of the account's side of the API (outbox/account.py)."""
    http = LineHttp(platform.base_url, TOKEN, concurrency=8, timeout=TIMEOUT)
    yield AccountApi(http)
    http.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def pool():
    background = Pool(4)
    yield background
    background.kill()


@pytest.fixture
def names(account, clock, pool):
    return DisplayNames(account, timeout=TIMEOUT, ttl=6 * 3600, miss_ttl=60, clock=clock,
                        background=pool)


@pytest.fixture
def release(platform):
    """Hold every API call at the stand-in until the test releases it (or ends)."""
    gate = platform.faults.held = gevent.event.Event()
    yield gate.set
    gate.set()


def profile_requests(platform):
    return [r for r in platform.requests if r.path.startswith(PROFILE_PATH)]


# -- the stand-in's profile endpoint ---------------------------------------------------------

def test_profile_endpoint_answers_known_users_like_line_and_404_for_others(platform, api):
    friend, stranger, blocker = new_user_id(), new_user_id(), new_user_id()
    platform.profiles[friend] = {"displayName": "花子", "pictureUrl": "https://example.com/p",
                                 "language": "ja"}
    platform.profiles[blocker] = {"displayName": "太郎"}
    platform.faults.blocked_users.add(blocker)
    profile = api.get_profile(friend, _request_timeout=TIMEOUT)
    assert (profile.user_id, profile.display_name, profile.language) == (friend, "花子", "ja")
    for unknown in (stranger, blocker):
        with pytest.raises(ApiException) as raised:
            api.get_profile(unknown, _request_timeout=TIMEOUT)
        assert raised.value.status == 404 and '"Not found"' in raised.value.body


def test_the_simulators_chat_users_are_known_by_their_names(tmp_path):
    line = LocalLine(SECRET, TOKEN, history_path=str(tmp_path / "chats.json")).start()
    try:
        sakura = line.hub.add_user("さくら")
        with client_for(line.base_url) as client:
            api = MessagingApi(client)
            assert api.get_profile(sakura.id, _request_timeout=TIMEOUT).display_name == "さくら"
            line.hub.block(sakura.id)  # LINE tells the bot nothing about a user who blocked it
            with pytest.raises(ApiException) as raised:
                api.get_profile(sakura.id, _request_timeout=TIMEOUT)
            assert raised.value.status == 404
    finally:
        line.stop()


# -- display names -----------------------------------------------------------------------------

def test_a_name_comes_from_line_once_then_from_the_cache_until_it_expires(platform, names,
                                                                          clock):
    user = new_user_id()
    platform.profiles[user] = {"displayName": "花子"}
    assert names.display_name(user) == "花子"
    platform.profiles[user] = {"displayName": "はなこ"}  # renamed in LINE
    clock.now += 6 * 3600 - 1
    assert names.display_name(user) == "花子" and names.cached(user) == "花子"
    assert len(profile_requests(platform)) == 1
    clock.now += 1
    assert names.cached(user) is None
    assert names.display_name(user) == "はなこ"
    assert len(profile_requests(platform)) == 2


def test_a_user_line_does_not_know_is_none_and_asked_again_only_after_a_while(platform, names,
                                                                               clock):
    user = new_user_id()
    assert names.display_name(user) is None
    platform.profiles[user] = {"displayName": "花子"}  # becomes a friend
    assert names.display_name(user) is None            # the miss is remembered...
    assert len(profile_requests(platform)) == 1
    clock.now += 60
    assert names.display_name(user) == "花子"           # ...briefly
    assert len(profile_requests(platform)) == 2


def test_a_lookup_that_times_out_is_none_never_raises_and_is_not_repeated_at_once(
        platform, account, clock, release, caplog):
    names = DisplayNames(account, timeout=0.05, miss_ttl=60, clock=clock)
    users = [new_user_id() for _ in range(3)]
    for user in users:
        platform.profiles[user] = {"displayName": "花子"}
    with caplog.at_level(logging.WARNING, logger="outbox.profiles"):
        assert [names.display_name(user) for user in users] == [None, None, None]
    release()
    platform.wait_for(lambda p: len(profile_requests(p)) == 3, what="the held lookups answered")
    assert names.display_name(users[0]) is None  # remembered as unknown: LINE is not asked
    assert len(profile_requests(platform)) == 3
    failing = [r for r in caplog.records if "profile lookups failing" in r.getMessage()]
    assert len(failing) == 1 and "TimeoutError" in failing[0].getMessage()
    assert all(user not in r.getMessage() for r in caplog.records for user in users)
    clock.now += 60
    assert names.display_name(users[0]) == "花子"  # LINE works again


def test_a_refused_lookup_is_none(platform):
    user = new_user_id()
    platform.profiles[user] = {"displayName": "花子"}
    revoked = AccountApi(LineHttp(platform.base_url, "revoked", timeout=TIMEOUT))
    assert DisplayNames(revoked).display_name(user) is None  # 401


def test_callers_asking_for_the_same_user_at_once_share_one_request(platform, names, release):
    user = new_user_id()
    platform.profiles[user] = {"displayName": "花子"}
    callers = [gevent.spawn(names.display_name, user) for _ in range(3)]
    gevent.idle()  # all three are waiting: one on the stand-in, two on its answer
    release()
    gevent.joinall(callers, raise_error=True)
    assert [caller.value for caller in callers] == ["花子"] * 3
    assert len(profile_requests(platform)) == 1


def test_at_most_max_entries_names_are_kept_least_recently_used_go(platform, account, clock):
    names = DisplayNames(account, timeout=TIMEOUT, max_entries=2, clock=clock)
    first, second, third = (new_user_id() for _ in range(3))
    for user, name in ((first, "一"), (second, "二"), (third, "三")):
        platform.profiles[user] = {"displayName": name}
    names.display_name(first)
    names.display_name(second)
    names.display_name(first)      # first is now the most recently used
    names.display_name(third)      # second goes
    assert (names.cached(first), names.cached(second), names.cached(third)) == ("一", None, "三")


def test_fetch_soon_never_waits_and_fills_the_cache_in_the_background(platform, names, pool,
                                                                       release):
    users = [new_user_id() for _ in range(7)]
    for index, user in enumerate(users):
        platform.profiles[user] = {"displayName": f"ユーザー{index}"}
    names.fetch_soon(users[:2])    # returns at once: the stand-in holds every call
    names.fetch_soon(users[:2])    # lookups under way are not started twice
    assert [names.cached(user) for user in users] == [None] * 7
    release()
    pool.join()
    assert [names.cached(user) for user in users[:2]] == ["ユーザー0", "ユーザー1"]
    assert len(profile_requests(platform)) == 2
    names.fetch_soon(users)        # 4 at a time (the pool's size): the last waits for later
    pool.join()
    assert [names.cached(user) for user in users] == [f"ユーザー{i}" for i in range(6)] + [None]
    assert len(profile_requests(platform)) == 6


# -- the message quota -----------------------------------------------------------------------

def multicast(api, users, key=None):
    request = MulticastRequest(to=users, messages=[TextMessage(text="飲んだ?")])
    api.multicast(request, x_line_retry_key=key or str(uuid.uuid4()), _request_timeout=TIMEOUT)


def consumption(api):
    return api.get_message_quota_consumption(_request_timeout=TIMEOUT).total_usage


@pytest.fixture
def receiver(platform):
    """The bot's webhook edge, for a reply token."""
    edge = WebhookReceiver(SECRET)
    edge.server.start()
    platform.webhook_url = edge.url
    yield edge
    edge.server.stop(timeout=0)


def test_the_stand_in_counts_messages_as_line_does(platform, api, receiver):
    users = [new_user_id() for _ in range(3)]
    platform.faults.blocked_users.add(users[1])
    key = str(uuid.uuid4())
    multicast(api, users, key)                       # 2 recipients: a blocker is skipped
    with pytest.raises(ApiException):
        multicast(api, users, key)                   # a repeated retry key: not sent again
    api.push_message(PushMessageRequest(to=users[0], messages=[
        TextMessage(text="飲んだ?"), TextMessage(text="飲んだ??")]), _request_timeout=TIMEOUT)
    platform.send_text(users[0], "設定教えて")
    api.reply_message(ReplyMessageRequest(replyToken=receiver.events[-1].reply_token,
                                          messages=[TextMessage(text="ok")]),
                      _request_timeout=TIMEOUT)      # replies are free
    assert consumption(api) == 3                     # one per recipient of a push
    assert api.get_message_quota(_request_timeout=TIMEOUT).type == "none"


def test_a_limit_refuses_what_would_go_past_it_and_the_month_starts_again(platform, api):
    users = [new_user_id() for _ in range(3)]
    platform.quota_limit = 4
    quota = api.get_message_quota(_request_timeout=TIMEOUT)
    assert (quota.type, quota.value) == ("limited", 4)
    with freeze_time("2026-11-30 14:59:00"):        # 23:59 on Nov 30 in Japan
        multicast(api, users)
        with pytest.raises(ApiException) as raised:
            multicast(api, users[:2])                # 3 + 2 > 4: refused whole
        assert raised.value.status == 429 and "monthly limit" in raised.value.body
        outbox = LineOutbox(platform.base_url, TOKEN, timeout=TIMEOUT)
        assert outbox.push(users[0], ["飲んだ?"], str(uuid.uuid4())) is PushResult.DELIVERED
        assert outbox.push(users[0], ["飲んだ?"], str(uuid.uuid4())) is PushResult.QUOTA
        assert consumption(api) == 4
    with freeze_time("2026-11-30 15:01:00"):        # 00:01 on Dec 1 in Japan
        assert consumption(api) == 0
        multicast(api, users)


def test_quota_is_read_at_most_once_a_minute_and_never_waited_for(platform, api, account,
                                                                   clock, release):
    spawned = []
    quota = MessageQuota(account, timeout=TIMEOUT, max_age=60, clock=clock,
                         spawn=lambda run: spawned.append(gevent.spawn(run)) or spawned[-1])
    platform.quota_limit = 200
    assert quota.current() is None                   # the stand-in holds the call: no wait
    assert quota.current() is None and len(spawned) == 1
    release()
    gevent.joinall(spawned, raise_error=True)
    assert quota.current() == QuotaUsage(used=0, limit=200)
    platform.faults.held = None
    multicast(api, [new_user_id() for _ in range(3)])
    clock.now += 59
    assert quota.current() == QuotaUsage(used=0, limit=200) and len(spawned) == 1
    clock.now += 1
    assert quota.current() == QuotaUsage(used=0, limit=200)  # the old figures, at once
    gevent.joinall(spawned, raise_error=True)
    assert quota.current() == QuotaUsage(used=3, limit=200)
    consumption_reads = [r for r in platform.requests if r.path == QUOTA_CONSUMPTION_PATH]
    assert len(consumption_reads) == 2


def test_quota_keeps_the_last_figures_when_line_cannot_be_reached(platform, account, clock):
    quota = MessageQuota(account, timeout=TIMEOUT, clock=clock)
    platform.quota_limit = 10
    assert quota.refresh() == QuotaUsage(used=0, limit=10)
    platform.stop()
    assert quota.refresh() == QuotaUsage(used=0, limit=10)


@pytest.mark.parametrize("used, limit, share, warning", [
    (0, None, None, False), (159, 200, 0.795, False), (160, 200, 0.8, True),
    (200, 200, 1.0, True)])
def test_quota_usage_warns_from_80_percent(used, limit, share, warning):
    usage = QuotaUsage(used=used, limit=limit)
    assert usage.as_dict() == {"used": used, "limit": limit, "share": share,
                               "warning": warning}


# -- /debug ----------------------------------------------------------------------------------

@pytest.fixture
def http():
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    yield pool
    pool.clear()


def debug(http, bot, path="/debug/actors"):
    response = http.request("GET", f"http://127.0.0.1:{bot.server.server_port}{path}",
                            headers={"Authorization": "Bearer debug-token"})
    assert response.status == 200
    return response.data.decode("utf-8")


def test_debug_shows_display_names_and_never_waits_for_line(bot, http):
    user = new_user_id()
    bot.say(user, "7時30分")
    bot.platform.profiles[user] = {"displayName": "うさぎ"}
    short = f'<code title="{user}">{user[:7]}…</code>'
    gate = bot.platform.faults.held = gevent.event.Event()  # LINE answers nothing
    try:
        actors = json.loads(debug(http, bot))
        html = debug(http, bot, "/debug")
    finally:
        gate.set()
    [row] = actors["users"]
    assert (row["user"], row["times"][0]["time"], row["name"]) == (user, "7:30", None)
    assert actors["quota"] is None and actors["due"]["count"] == 1
    assert short in html and "うさぎ" not in html
    # The page asked for the name in the background: this lookup waits for that one.
    assert bot.outbox.names.display_name(user) == "うさぎ"
    assert len(profile_requests(bot.platform)) == 1
    assert f"うさぎ ({short})" in debug(http, bot, "/debug")
    assert json.loads(debug(http, bot))["users"][0]["name"] == "うさぎ"


@pytest.mark.parametrize("sent, card", [
    (7, '<div class="card"><b>7 / 10</b><span>messages used / limit this month (70%)'),
    (8, '<div class="card warn"><b>8 / 10</b><span>messages used / limit this month (80%)'),
    (10, '<div class="card bad"><b>10 / 10</b><span>messages used / limit this month (100%)'),
])
def test_debug_shows_the_months_messages_of_the_limit_warning_from_80_percent(bot, http, sent,
                                                                                card):
    bot.platform.quota_limit = 10
    users = [new_user_id() for _ in range(sent)]
    assert bot.outbox.multicast(users, ["飲んだ?"], str(uuid.uuid4())) is PushResult.DELIVERED
    bot.outbox.quota.refresh()
    assert card in debug(http, bot, "/debug")
    assert json.loads(debug(http, bot))["quota"] == {
        "used": sent, "limit": 10, "share": sent / 10, "warning": sent >= 8}


def test_debug_shows_messages_without_a_limit(bot, http):
    bot.outbox.push(new_user_id(), ["飲んだ?"], str(uuid.uuid4()))
    bot.outbox.quota.refresh()
    assert '<div class="card"><b>1 / no limit</b>' in debug(http, bot, "/debug")


def test_debug_page_names_users_in_both_tables_escaped_and_says_the_quota_is_coming():
    due = 1795818600.0
    snapshot = {"users": [{"user": "U1234abcdef", "name": "<b>花子</b>", "time": "7:30"}],
                "due": {"count": 1, "next": [{"due": due, "user": "U1234abcdef"}]},
                "quota": None}
    html = debug_page.render(snapshot, now=due - 90, zone="Asia/Tokyo")
    named = '&lt;b&gt;花子&lt;/b&gt; (<code title="U1234abcdef">U1234ab…</code>)'
    assert html.count(named) == 2  # a display name is the user's own text: escaped
    assert "<b>…</b><span>messages used / limit this month (asking LINE)" in html
