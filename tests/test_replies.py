"""Replies under overload. A webhook answered 200 gets its reply while its token is
still good, or it is refused with 503 before anything changes; replies share LINE's
per-channel rate with pushes; a reply is tried again only when LINE certainly did not act."""
import logging
import uuid

import gevent
from gevent.event import Event

from actors import user as user_actor
from actors.messages import ShowSetting
from chat import texts
from outbox.line import LineOutbox, PushResult
from simulator.platform import LinePlatform, REPLY_PATH
from storage.redis_server import free_port
from tests.conftest import SECRET, TOKEN
from tests.support import new_user_id

SETTING_QUERY = "設定教えて"


def test_replies_waiting_for_a_connection_are_not_cut_by_the_wire_timeout(platform):
    # LINE answers each reply in 0.3 s and the wire timeout is 1 s: 640 replies at once need
    # five rounds of the outbox's connections, so most wait for one longer than the timeout.
    platform.faults.latency = 0.3
    outbox = LineOutbox(platform.base_url, TOKEN, timeout=1.0)
    tokens = [platform.issue_reply_token(new_user_id()) for _ in range(640)]
    replies = [gevent.spawn(outbox.reply, token, [texts.NOT_SET]) for token in tokens]
    gevent.joinall(replies)
    outbox.close()
    assert [reply.value for reply in replies].count(True) == len(tokens)
    assert sorted(reply.reply_token for reply in platform.replies) == sorted(tokens)


def test_replies_to_webhooks_are_paced_under_lines_rate(make_bot, platform):
    bot = make_bot(push_rate_per_second=20)
    platform.faults.rate_limit = 25  # LINE: 429 past 25 requests in a second
    users = [new_user_id() for _ in range(30)]
    webhooks = [gevent.spawn(platform.send_text, user, SETTING_QUERY) for user in users]
    assert [webhook.get() for webhook in webhooks] == [200] * len(users)
    bot.timer.settle()
    assert [bot.last_reply(user) for user in users] == [(texts.NOT_SET,)] * len(users)
    assert {request.status for request in platform.requests} == {200}


def test_pushes_and_replies_take_turns_at_one_pace(platform):
    platform.faults.rate_limit = 25
    outbox = LineOutbox(platform.base_url, TOKEN, timeout=2.0, rate=20)
    users = [new_user_id() for _ in range(30)]
    pushes = [gevent.spawn(outbox.push, user, ["飲んだ?"], str(uuid.uuid4()))
              for user in users[:15]]
    replies = [gevent.spawn(outbox.reply, platform.issue_reply_token(user), [texts.NOT_SET])
               for user in users[15:]]
    gevent.joinall(pushes + replies)
    outbox.close()
    assert [push.value for push in pushes] == [PushResult.DELIVERED] * 15
    assert [reply.value for reply in replies] == [True] * 15
    assert {request.status for request in platform.requests} == {200}


def test_a_webhook_whose_reply_could_not_go_out_in_time_is_refused_before_anything_changes(
        make_bot, platform, store):
    # 0.1 s of the replies' share of 40 requests/s: three replies may be owed at once.
    bot = make_bot(outbox_options={"reply_backlog": 0.1}, push_rate_per_second=40)
    assert bot.outbox.backlog.limit == 3
    platform.faults.held = Event()  # LINE answers nothing yet: every reply stays owed
    users = [new_user_id() for _ in range(5)]
    events = [platform.make_text_event(user, "7時") for user in users]
    assert [platform.post_events([event]) for event in events] == [200, 200, 200, 503, 503]
    refused = events[3:]
    # Nothing changed for the refused ones: no redelivery mark, no record, no actor.
    assert not any(store.redis.exists(store.keys.webhook_event(event["webhookEventId"], user))
                   for event, user in zip(refused, users[3:]))
    assert [store.users.load(user) for user in users[3:]] == [None, None]
    assert not set(users[3:]) & set(bot.system.awake)

    platform.faults.held.set()
    bot.timer.settle()
    platform.faults.held = None
    # LINE redelivers what was refused: handled once, as if it were the first delivery.
    for event in refused:
        redelivered = {**event, "deliveryContext": {"isRedelivery": True}}
        assert platform.post_events([redelivered]) == 200
        assert platform.post_events([redelivered]) == 200  # and again: a duplicate
    bot.timer.settle()
    assert [[reply.texts for reply in platform.replies if reply.to == user] for user in users] \
        == [[(texts.times_set(((7, 0),)),)]] * len(users)
    assert bot.outbox.backlog.owed == 0


def test_the_reply_an_actor_owes_is_settled_when_it_crashes(bot, monkeypatch, user_id):
    def crash(actor, message):
        raise RuntimeError("a bug")

    monkeypatch.setitem(user_actor._HANDLERS, ShowSetting, crash)
    bot.say(user_id, SETTING_QUERY)
    assert bot.outbox.backlog.owed == 0


# -- one reply: what is tried again ------------------------------------------------------------

def outbox_lines(caplog):
    return [record.getMessage() for record in caplog.records if record.name == "outbox.line"]


def reply_outbox(base_url, **options):
    return LineOutbox(base_url, TOKEN, **{"timeout": 2.0, "backoff": 0.01, **options})


def test_a_reply_line_answered_with_5xx_or_429_is_tried_again_and_shown_once(platform):
    outbox = reply_outbox(platform.base_url)
    platform.faults.fail_next_replies(1, 500)
    platform.faults.fail_next_replies(1, 429)
    token = platform.issue_reply_token(new_user_id())
    assert outbox.reply(token, [texts.NOT_SET]) is True
    assert [request.status for request in platform.requests] == [500, 429, 200]
    assert len(platform.replies) == 1


def test_a_reply_that_never_reached_line_is_tried_again():
    port = free_port()
    line = LinePlatform(channel_secret=SECRET, channel_token=TOKEN)

    def line_comes_up_while_the_reply_backs_off(seconds):
        if not line.requests:
            line.start(port=port)

    outbox = reply_outbox(f"http://127.0.0.1:{port}", sleep=line_comes_up_while_the_reply_backs_off)
    token = line.issue_reply_token(new_user_id())
    try:
        assert outbox.reply(token, [texts.NOT_SET]) is True  # refused connection, then shown
    finally:
        line.stop()
    assert [reply.reply_token for reply in line.replies] == [token]


def test_a_reply_written_whole_that_got_no_answer_is_not_tried_again(platform, caplog):
    caplog.set_level(logging.WARNING, logger="outbox.line")
    outbox = reply_outbox(platform.base_url, timeout=0.2)
    platform.faults.held = Event()
    token = platform.issue_reply_token(new_user_id())
    assert outbox.reply(token, [texts.NOT_SET]) is False  # LINE may have shown it
    platform.faults.held.set()
    platform.wait_for(lambda line: line.requests)
    assert len(platform.replies) == 1  # it had: a second try would have been refused
    assert [line.split(" latency_ms")[0] for line in outbox_lines(caplog)] == [
        "send=reply recipients=1 error=TimeoutError"]


def test_a_reply_that_cannot_have_a_turn_before_its_deadline_is_given_up(platform, caplog):
    caplog.set_level(logging.WARNING, logger="outbox.line")
    outbox = reply_outbox(platform.base_url, rate=1, reply_deadline=0.2)
    first, second = (platform.issue_reply_token(new_user_id()) for _ in range(2))
    assert outbox.reply(first, [texts.NOT_SET]) is True   # this second's one turn
    assert outbox.reply(second, [texts.NOT_SET]) is False  # the next is past its deadline
    assert [reply.reply_token for reply in platform.replies] == [first]
    assert [request.path for request in platform.requests] == [REPLY_PATH]
    logged = outbox_lines(caplog)
    assert [line.split(" latency_ms")[0] for line in logged] == [
        "send=reply recipients=1 error=deadline"]
    assert second not in logged[0]
