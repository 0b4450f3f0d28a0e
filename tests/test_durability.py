"""Restarts, crashes and a second process: each ask is shown once, at its time."""
import logging

from chat import texts
from storage import keys
from tests.conftest import WHOLE_DAY
from tests.support import (
    advance_together, asks_seen_once, count_calls, crowd, edit_record,
    let_the_dead_senders_lease_run_out, send_statuses,
)


def test_restart_before_the_first_ask(bot, user_id):
    bot.say(user_id, "6時30分")
    bot.restart()
    bot.advance(minutes=30)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]


def test_restart_between_re_asks_resumes_at_the_original_due_times(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=25)                      # first ask 6:10, re-ask 6:20
    bot.restart()
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == WHOLE_DAY
    assert bot.gaps(user_id) == [600] * 10


def test_restart_right_after_an_answer(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=25)
    bot.say(user_id, "飲んだ")
    bot.restart()
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]
    bot.say(user_id, "こんにちは")               # nothing open after the restart either
    assert bot.last_reply(user_id) == (texts.HELP,)
    bot.advance(hours=20, minutes=50)            # 06:15 the next day
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ?"]


def test_first_ask_missed_while_down_is_sent_late_within_the_grace(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.stop()
    bot.frozen.tick(25 * 60)                     # down from 06:00 to 06:25
    bot.start()
    bot.timer.advance(0)
    [ask] = bot.pushes(user_id)
    assert ask.texts == ("飲んだ?",) and round(ask.at - bot.timer.now()) == 0
    bot.advance(minutes=10)                      # normal spacing from the late ask
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]


def test_first_ask_missed_beyond_the_grace_is_recorded_not_sent(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.stop()
    bot.frozen.tick(45 * 60)                     # down until 06:45: 35 minutes late
    bot.start()
    bot.timer.advance(0)
    assert bot.pushes(user_id) == []
    [round] = bot.store.users.load(user_id).doses
    assert (round.state, round.day) == ("not_asked", "2026-11-27")
    bot.advance(hours=24)                        # tomorrow is normal again
    assert bot.pushed_texts(user_id)[:1] == ["飲んだ?"]


def test_overdue_re_asks_are_not_fired_in_a_burst(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=15)                      # 6:10 first ask; re-ask 1 due 6:20
    bot.stop()
    bot.frozen.tick(20 * 60)                     # down 06:15-06:35: two re-asks overdue
    bot.start()
    bot.timer.advance(0)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]   # one catch-up
    bot.advance(minutes=9)
    assert len(bot.pushes(user_id)) == 2
    bot.advance(minutes=1)                       # then the normal spacing
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ???"]


def test_two_processes_on_one_redis_show_each_ask_once(make_bot, user_id, monkeypatch):
    first = make_bot()
    first.say(user_id, "6時10分")
    first.say(user_id + "b", "6時20分")
    second = make_bot()                          # the new dyno starts while the old one runs
    both = [first.timer, second.timer]           # their timers fire at the same moments
    claims = {name: count_calls(monkeypatch, bot.store.batches, "claim")
              for name, bot in (("first", first), ("second", second))}
    advance_together(both, 45 * 60)
    assert asks_seen_once(first)
    assert first.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ???", "飲んだ????"]
    # Each due user was one process's at a time (the due index's lease): every ask was
    # gone for once, by one process or the other.
    asks = [(record.user_id, attempt) for made in claims.values()
            for _, (attempt, _, _), batch, _ in made for record in batch]
    assert len(asks) == len(set(asks)) == 4 + 3
    # The answer reaches one process; the other one must stop asking too.
    second.say(user_id, "飲んだ")
    advance_together(both, 2 * 3600)
    assert first.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ???", "飲んだ????"]
    assert asks_seen_once(first)
    # Neither process even tried to send what the other had: LINE's 409 was never needed.
    assert 409 not in [r.status for r in first.platform.requests]


def test_a_repeated_webhook_event_has_one_effect(bot, user_id, platform):
    event = platform.make_text_event(user_id, "7時")
    assert platform.post_events([event]) == 200
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    assert platform.post_events([redelivered]) == 200
    bot.timer.settle()
    assert len([r for r in platform.replies if r.to == user_id]) == 1
    # Not even an attempt: a second reply with the spent token would be refused by LINE and
    # hide a missing dedupe from the count above.
    assert [r.path for r in platform.requests].count("/v2/bot/message/reply") == 1


def test_a_crash_in_one_users_actor_leaves_the_others_alone(bot, user_id, monkeypatch, caplog):
    other = user_id + "other"
    bot.say(user_id, "6時10分")
    bot.say(other, "6時10分")
    asks = bot.system.asks
    real_together, real_ask = asks.ask_together, asks.ask
    crashes = []

    def flaky_together(plain_asks, attempt):   # asking the two together fails once: a bug
        if not crashes:
            crashes.append("together")
            raise RuntimeError("a bug")
        return real_together(plain_asks, attempt)

    def flaky_ask(record, *args):               # then the user's own actor crashes once
        if record.user_id == user_id and crashes == ["together"]:
            crashes.append("actor")
            raise ConnectionError("Redis went away")
        return real_ask(record, *args)

    monkeypatch.setattr(asks, "ask_together", flaky_together)
    monkeypatch.setattr(asks, "ask", flaky_ask)
    with caplog.at_level(logging.ERROR):
        bot.advance(minutes=10)                  # the first ask: both crashes
    assert crashes == ["together", "actor"]
    assert "handling 2 users due together failed (RuntimeError); their actors take over" in caplog.text
    assert "restarting from Redis" in caplog.text
    assert user_id not in caplog.text            # logs carry no full user ids
    assert bot.pushed_texts(other) == ["飲んだ?"]
    bot.advance(seconds=1)                       # restarted from Redis, asked a second late
    assert bot.pushed_texts(user_id) == ["飲んだ?"]
    bot.advance(minutes=10)                      # and the day goes on for both
    assert bot.pushed_texts(other) == ["飲んだ?", "飲んだ??"]
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]
    bot.say(user_id, "飲んだ")
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    assert asks_seen_once(bot)


def test_a_user_whose_wake_ups_keep_crashing_is_looked_at_less_often_until_repaired(
        bot, user_id, caplog):
    def nowhere(raw):
        return raw.replace(b'"tz":null', b'"tz":"Nowhere/Atlantis"')

    def crashes():
        return [r.created for r in caplog.records if "crashed on ReminderDue" in r.getMessage()]

    bot.say(user_id, "6時10分")
    stored = edit_record(bot, user_id, nowhere)
    with caplog.at_level(logging.ERROR):
        bot.advance(minutes=10)                  # 6:10: due, and every look at it crashes
        bot.advance(hours=2)
    # 1, 2, 4 ... s apart, not every second: 13 in two hours instead of 7,200.
    assert len(crashes()) == 13
    assert [round(b - a) for a, b in zip(crashes(), crashes()[1:])][:5] == [1, 2, 4, 8, 16]
    assert bot.pushed_texts(user_id) == []
    assert bot.store.redis.zscore(keys.ONE_REDIS.due(), user_id) is not None   # never given up on
    edit_record(bot, user_id, lambda raw: stored)  # repaired (a deploy that knows the zone)
    bot.advance(hours=1)                         # looked at again: today's ask is too late
    assert bot.pushed_texts(user_id) == []
    bot.advance(hours=21)                        # 6:10 the next day
    assert bot.pushed_texts(user_id) == ["飲んだ?"]
    edit_record(bot, user_id, nowhere)           # broken again: the count starts over
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        bot.advance(minutes=10, seconds=1)       # the 6:20 re-ask, and a second later
    assert [round(b - a) for a, b in zip(crashes(), crashes()[1:])] == [1]


def test_messages_that_keep_crashing_do_not_delay_the_users_ask(bot, user_id, monkeypatch):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=9, seconds=50)           # 6:09:50

    def broken_card(*args):
        raise RuntimeError("a bug in the 記録 card")
    monkeypatch.setattr("actors.requests.history_card.history_message", broken_card)
    for _ in range(5):
        bot.platform.send_text(user_id, "記録")    # each crashes the user's actor
    bot.advance(seconds=10)                      # 6:10
    [ask] = bot.pushes(user_id)
    assert round(ask.at - bot.timer.now()) == 0  # on time, not pushed back by the crashes


def die_once(monkeypatch, owner, name, after=False):
    """The first call to owner.name is where the process dies: before it, or just after."""
    real, died = getattr(owner, name), []

    def flaky(*args, **kwargs):
        if died:
            return real(*args, **kwargs)
        died.append(name)
        if after:
            real(*args, **kwargs)
        raise ConnectionError("the process died here")

    monkeypatch.setattr(owner, name, flaky)


def test_a_batch_line_took_before_a_crash_is_resent_with_its_key(bot, monkeypatch):
    users = crowd(bot)
    die_once(monkeypatch, bot.outbox, "multicast", after=True)  # LINE took it, nothing else
    bot.advance(minutes=10)
    bot.restart()
    bot.timer.settle()                                 # the claim is still leased: wait
    let_the_dead_senders_lease_run_out(bot)
    bot.advance(seconds=31)
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)
    assert send_statuses(bot.platform) == [200, 409]          # one resend of the same request
    assert all(bot.store.users.load(user).doses[0].asks == 1 for user in users)
    bot.advance(minutes=10)
    assert all(bot.pushed_texts(user) == ["飲んだ?", "飲んだ??"] for user in users)
    assert asks_seen_once(bot)


def test_a_batch_claimed_but_never_sent_is_sent_after_a_restart(bot, monkeypatch):
    users = crowd(bot)
    die_once(monkeypatch, bot.outbox, "multicast")     # claimed in Redis, then a crash
    bot.advance(minutes=10)
    assert bot.platform.pushes == []
    bot.restart()
    let_the_dead_senders_lease_run_out(bot)
    bot.advance(seconds=31)
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)
    assert send_statuses(bot.platform) == [200]
    assert asks_seen_once(bot)


def test_a_batch_that_could_not_be_marked_sent_changes_nothing_for_the_users(bot, monkeypatch):
    users = crowd(bot)
    die_once(monkeypatch, bot.store.batches, "finish")   # Redis blinks after LINE took it
    bot.advance(minutes=20)
    assert all(bot.pushed_texts(user) == ["飲んだ?", "飲んだ??"] for user in users)
    assert asks_seen_once(bot)
