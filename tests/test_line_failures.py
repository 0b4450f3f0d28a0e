"""LINE misbehaving (the stand-in's `Faults`): each ask is still shown once, retries stay
bounded, and the outbox says why a push was not shown."""
import logging
import uuid

import gevent
import pytest
from gevent.event import Event
from webtest import TestApp

from outbox.http import LineHttp, NotSent
from outbox.line import LineOutbox, PushResult
from simulator.platform import MULTICAST_PATH, PUSH_PATH, REPLY_PATH, ApiRequest
from tests.conftest import SECRET, TOKEN
from tests.support import new_user_id, send_statuses
from web import create_app

ASK = "飲んだ?"


def new_key():
    return str(uuid.uuid4())


class FakeClock:
    """Seconds that pass only when the outbox backs off: deadlines without waiting."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def make_outbox(platform):
    def make(**overrides):
        options = dict(timeout=2.0, backoff=0.01, max_backoff=0.05)
        options.update(overrides)
        return LineOutbox(platform.base_url, TOKEN, **options)
    return make


@pytest.fixture
def outbox(make_outbox):
    return make_outbox()


# -- the outbox on its own -------------------------------------------------------------------

def test_a_blocked_user_is_unreachable_and_not_retried(outbox, platform):
    user = new_user_id()
    platform.faults.blocked_users.add(user)
    result = outbox.push(user, [ASK], new_key())
    assert result is PushResult.UNREACHABLE
    assert not result.shown
    assert platform.requests == [ApiRequest(PUSH_PATH, 400)]
    assert platform.pushes == []


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_other_client_errors_are_refused_without_retry(outbox, platform, status):
    platform.faults.fail_next(1, status)
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.REFUSED
    assert send_statuses(platform) == [status]


def test_a_refused_token_is_one_clear_error_until_a_push_goes_through(outbox, platform, caplog):
    caplog.set_level(logging.WARNING, logger="outbox.line")
    platform.faults.fail_next(3, 401)
    for _ in range(3):
        assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.REFUSED
    assert outbox.auth_refused
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.DELIVERED
    assert not outbox.auth_refused


def test_the_transport_tells_a_request_line_never_got_from_one_without_an_answer(platform):
    http = LineHttp(platform.base_url, TOKEN, timeout=0.2)
    platform.faults.held = Event()
    with pytest.raises(TimeoutError) as unanswered:   # written whole: LINE may act on it
        http.post(REPLY_PATH, b"{}", 0.2)
    assert not isinstance(unanswered.value, NotSent)
    platform.faults.held.set()
    platform.stop()
    with pytest.raises(NotSent) as refused:           # no connection: LINE never got it
        http.post(REPLY_PATH, b"{}", 0.2)
    assert isinstance(refused.value.__cause__, ConnectionRefusedError)
    http.close()


def test_server_errors_are_retried_with_the_same_key(outbox, platform):
    platform.faults.fail_next(2, 500)
    key = new_key()
    assert outbox.push(new_user_id(), [ASK], key) is PushResult.DELIVERED
    assert send_statuses(platform) == [500, 500, 200]
    assert [p.retry_key for p in platform.pushes] == [key]


def test_server_errors_give_up_after_the_attempts(make_outbox, platform):
    outbox = make_outbox(attempts=3)
    platform.faults.fail_next(10, 503)
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.FAILED
    assert send_statuses(platform) == [503] * 3


def test_retries_stop_at_the_deadline_and_the_last_timeout_is_cut(make_outbox, platform,
                                                                   monkeypatch):
    clock = FakeClock()
    outbox = make_outbox(attempts=1000, backoff=1.0, max_backoff=4.0, deadline=30.0,
                         clock=clock, sleep=clock.sleep)
    timeouts = []
    real_post = outbox.transport.post

    def spy(path, payload, timeout, headers=()):
        timeouts.append(timeout)
        return real_post(path, payload, timeout, headers)

    monkeypatch.setattr(outbox.transport, "post", spy)
    platform.faults.fail_next(1000, 500)
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.FAILED
    assert clock.now <= 30.0
    assert 3 < len(send_statuses(platform)) < 1000
    assert timeouts[0] == 2.0 and all(0 < t <= 2.0 for t in timeouts)


def test_rate_limit_retries_are_bounded_by_the_deadline_not_the_attempts(make_outbox, platform):
    clock = FakeClock()
    outbox = make_outbox(attempts=2, deadline=5.0, clock=clock, sleep=clock.sleep)
    platform.faults.fail_next(20, 429)  # "Too Many Requests": a rate limit, not the quota
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.DELIVERED
    assert send_statuses(platform) == [429] * 20 + [200]

    platform.faults.fail_next(100000, 429)
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.FAILED
    assert clock.now <= 5.0 + 5.0


def test_a_rate_limit_slows_everyone_down_once_per_storm(outbox, platform):
    nominal = outbox.limiter.rate
    platform.faults.fail_next(5, 429)
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.DELIVERED
    # Five 429s in well under a second are one storm: the rate is halved once.
    assert outbox.limiter.rate == nominal / 2
    assert outbox.limiter.slowed


def test_backing_off_does_not_hold_a_send_slot(make_outbox, platform):
    gate, parked = Event(), Event()

    def park(seconds):
        parked.set()
        gate.wait()

    outbox = make_outbox(concurrency=1, sleep=park)
    first, second = new_user_id(), new_user_id()
    platform.faults.fail_next(1, 500)
    retrying = gevent.spawn(outbox.push, first, [ASK], new_key())
    with gevent.Timeout(5):
        parked.wait()
        assert outbox.in_flight == 0
        # The only slot is free while `first` backs off: `second` goes through meanwhile.
        assert outbox.push(second, [ASK], new_key()) is PushResult.DELIVERED
        gate.set()
        assert retrying.get() is PushResult.DELIVERED
    assert [p.to for p in platform.pushes] == [second, first]


def test_quota_one_warning_per_episode_and_the_flag_follows_line(outbox, platform, caplog):
    caplog.set_level(logging.WARNING, logger="outbox.line")

    def quota_errors():
        return [r for r in caplog.records
                if r.levelno == logging.ERROR and "quota" in r.getMessage()]

    platform.faults.quota_exhausted = True
    for _ in range(3):
        assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.QUOTA
    assert send_statuses(platform) == [429] * 3  # no retries: it will not get better today
    assert outbox.quota_exhausted
    assert len(quota_errors()) == 1

    platform.faults.quota_exhausted = False
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.DELIVERED
    assert not outbox.quota_exhausted

    platform.faults.quota_exhausted = True
    assert outbox.push(new_user_id(), [ASK], new_key()) is PushResult.QUOTA
    assert len(quota_errors()) == 2  # a new episode, a new warning


def test_logs_carry_no_text_token_or_full_user_id(outbox, platform, caplog):
    caplog.set_level(logging.DEBUG)
    user = new_user_id()
    platform.faults.blocked_users.add(user)
    platform.faults.fail_next(1, 500)
    outbox.push(user, ["秘密のお薬"], new_key())
    platform.faults.quota_exhausted = True
    outbox.push(user, ["秘密のお薬"], new_key())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged
    for secret in (user, "秘密のお薬", TOKEN):
        assert secret not in logged


# -- the whole bot ---------------------------------------------------------------------------

def record_pushes(bot, monkeypatch):
    """(user, text, result) for every push or multicast recipient the actors ask for."""
    calls = []
    real_push, real_multicast = bot.outbox.push, bot.outbox.multicast

    def push(user_id, texts, retry_key, quick_reply=()):
        result = real_push(user_id, texts, retry_key, quick_reply)
        calls.append((user_id, texts[0], result))
        return result

    def multicast(user_ids, texts, retry_key, quick_reply=()):
        result = real_multicast(user_ids, texts, retry_key, quick_reply)
        calls.extend((user_id, texts[0], result) for user_id in user_ids)
        return result

    monkeypatch.setattr(bot.outbox, "push", push)
    monkeypatch.setattr(bot.outbox, "multicast", multicast)
    return calls


def debug_outbox(bot):
    app = TestApp(create_app(channel_secret=SECRET, system=bot.system, store=bot.store,
                             outbox=bot.outbox, debug_token="debug-token"))
    answer = app.get("/debug/actors", headers={"Authorization": "Bearer debug-token"})
    return answer.json["outbox"]


def test_first_attempt_of_every_push_fails_each_ask_seen_once(bot, platform):
    users = [new_user_id() for _ in range(3)]
    for user in users:
        bot.say(user, "6時10分")
    platform.faults.fail_first_attempt = True
    bot.advance(minutes=20)
    for user in users:
        assert bot.pushed_texts(user) == ["飲んだ?", "飲んだ??"]
    assert send_statuses(platform) == [500, 200, 500, 200]  # one multicast per attempt


def test_a_hang_past_the_client_timeout_is_seen_once(make_bot, platform, user_id):
    bot = make_bot(line_timeout_seconds=0.2)
    bot.say(user_id, "6時10分")
    platform.faults.hang_next(1, 1.0)  # LINE takes it, but answers too late
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == [ASK]
    assert send_statuses(platform) == [200, 409]  # the retry's key was already accepted
    assert bot.store.users.load(user_id).doses[0].asks == 1


def test_a_429_storm_every_ask_seen_once(bot, platform):
    users = [new_user_id() for _ in range(8)]
    for user in users:
        bot.say(user, "6時10分")
    platform.faults.fail_next(5, 429)  # "Too Many Requests": slow down, retry, same key
    bot.advance(minutes=10)
    for user in users:
        assert bot.pushed_texts(user) == [ASK]
    assert send_statuses(platform) == [429] * 5 + [200]
    assert bot.outbox.multicast_limiter.slowed      # LINE limits each endpoint on its own
    assert not bot.outbox.limiter.slowed


def test_quota_gone_first_asks_still_tried_flag_shown_then_cleared(bot, platform, monkeypatch,
                                                                   caplog):
    caplog.set_level(logging.WARNING)
    early, late = new_user_id(), new_user_id()
    bot.say(early, "6時10分")
    bot.say(late, "6時20分")
    calls = record_pushes(bot, monkeypatch)
    platform.faults.quota_exhausted = True
    bot.advance(minutes=20)
    assert (early, ASK, PushResult.QUOTA) in calls
    assert (late, ASK, PushResult.QUOTA) in calls
    assert bot.outbox.quota_exhausted
    assert debug_outbox(bot)["quota_exhausted"] is True
    assert platform.pushes == []

    platform.faults.quota_exhausted = False  # a new month
    bot.advance(hours=24)
    assert ASK in bot.pushed_texts(early)
    assert not bot.outbox.quota_exhausted
    assert debug_outbox(bot)["quota_exhausted"] is False
    quota_errors = [r for r in caplog.records
                    if r.levelno == logging.ERROR and "quota" in r.getMessage()]
    assert len(quota_errors) == 1


# -- how the user actor reacts ----------------------------------------------------------------

def test_quota_gone_re_asks_stop(bot, platform, user_id, monkeypatch):
    bot.say(user_id, "6時10分")
    calls = record_pushes(bot, monkeypatch)
    platform.faults.quota_exhausted = True
    bot.advance(hours=3)
    assert calls == [(user_id, ASK, PushResult.QUOTA)]


def test_a_blocked_user_is_marked_inactive_and_not_asked_again(bot, platform, user_id,
                                                                monkeypatch):
    bot.say(user_id, "6時10分")
    calls = record_pushes(bot, monkeypatch)
    platform.faults.blocked_users.add(user_id)
    bot.advance(hours=3)
    bot.advance(hours=24)
    assert calls == [(user_id, ASK, PushResult.UNREACHABLE)]
    assert send_statuses(platform) == [400]


def test_following_again_after_a_block_resumes_the_reminder(bot, platform, user_id):
    bot.say(user_id, "6時10分")
    platform.faults.blocked_users.add(user_id)
    bot.advance(minutes=10)
    platform.faults.blocked_users.discard(user_id)
    assert platform.follow(user_id) == 200
    bot.timer.settle()
    bot.advance(hours=24)
    assert bot.pushed_texts(user_id) == [ASK]


def test_an_ask_line_could_not_take_is_asked_again_not_skipped(make_bot, platform, user_id):
    bot = make_bot(snooze_interval_seconds=600)
    bot.say(user_id, "6時10分")
    platform.faults.fail_next(4)          # every attempt of the first ask: LINE is down
    bot.advance(minutes=10)
    assert bot.pushes(user_id) == []
    bot.advance(minutes=10)               # LINE is back: the same question, not "飲んだ??"
    assert bot.pushed_texts(user_id) == [ASK]
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == [ASK, "飲んだ??"]


def test_a_crowd_line_could_not_take_is_asked_again_in_one_resend(bot, platform):
    users = [new_user_id() for _ in range(3)]
    for user in users:
        bot.say(user, "6時10分")
    platform.faults.fail_next(4)          # every attempt of the multicast: LINE is down
    bot.advance(minutes=10)
    assert platform.pushes == []
    bot.advance(minutes=10)               # LINE is back: the same request, with the same key
    assert all(bot.pushed_texts(user) == [ASK] for user in users)
    multicasts = [r.status for r in platform.requests if r.path == MULTICAST_PATH]
    assert multicasts == [500, 500, 500, 500, 200]
    assert len({p.retry_key for p in platform.pushes}) == 1


def test_a_user_who_blocked_the_bot_does_not_hold_up_a_crowd(bot, platform):
    users = [new_user_id() for _ in range(3)]
    for user in users:
        bot.say(user, "6時10分")
    platform.faults.blocked_users.add(users[0])  # LINE skips them in a multicast
    bot.advance(minutes=20)
    assert bot.pushes(users[0]) == []
    assert all(bot.pushed_texts(user) == [ASK, "飲んだ??"] for user in users[1:])
