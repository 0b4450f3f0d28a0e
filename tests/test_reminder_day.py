"""A user's day with the bot, driven by a manual timer on frozen time (06:00 Tokyo)."""
from datetime import datetime
from zoneinfo import ZoneInfo

from actors import system as system_module
from chat import texts
from simulator.line_api import MULTICAST_PATH
from tests.conftest import WHOLE_DAY
from tests.support import count_calls, crowd, send_paths


def test_setting_a_time_replies_and_first_ask_comes_at_that_time(bot, user_id):
    bot.say(user_id, "7時30分にお願い")
    assert bot.last_reply(user_id) == ("7時30分ですね。わかりました。",)

    bot.advance(hours=1, minutes=29, seconds=59)
    assert bot.pushes(user_id) == []
    bot.advance(seconds=1)
    [ask] = bot.pushes(user_id)
    assert ask.texts == ("飲んだ?",)
    assert ask.quick_reply == ("飲んだ!", "あとで")
    assert ask.at == datetime(2026, 11, 27, 7, 30, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def test_re_asks_every_interval_up_to_max_then_stop(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == WHOLE_DAY
    assert bot.gaps(user_id) == [600] * 10


def test_an_answer_stops_the_re_asks(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)       # first ask
    bot.advance(minutes=10)       # re-ask 1
    bot.say(user_id, "飲んだよ")
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]


def test_quick_reply_button_and_sticker_answer(bot, user_id, platform):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    bot.tap(user_id, texts.POSTBACK_TOOK)
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)

    other = user_id + "x"
    bot.say(other, "6時30分")
    bot.advance(minutes=20)
    assert platform.send_sticker(other) == 200
    bot.timer.settle()
    assert bot.last_reply(other) == (texts.WELL_DONE,)
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]
    assert bot.pushed_texts(other) == ["飲んだ?"]


def test_later_keeps_the_re_asks_going(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    bot.say(user_id, "あとで")
    assert bot.last_reply(user_id) == (texts.LATER,)
    bot.tap(user_id, texts.POSTBACK_LATER)
    assert bot.last_reply(user_id) == (texts.LATER,)
    bot.advance(minutes=20)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ???"]


def test_answer_after_the_last_re_ask_still_counts(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(hours=3)
    assert len(bot.pushes(user_id)) == 11
    bot.say(user_id, "ごめん今飲んだ")
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    assert bot.store.users.load(user_id).doses[0].state == "late"   # docs/design.md, Round states


def test_an_answer_within_the_interval_after_the_last_re_ask_is_in_time(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(hours=1, minutes=55)             # the last re-ask came at 7:50
    assert len(bot.pushes(user_id)) == 11
    bot.say(user_id, "こんにちは")               # any message still answers it
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    assert bot.store.users.load(user_id).doses[0].state == "taken"


def test_reschedule_during_re_asks_stops_them_and_starts_tomorrow(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=20)
    bot.say(user_id, "8時")
    assert bot.last_reply(user_id) == ("8時0分ですね。わかりました。", texts.TIME_SET_FROM_TOMORROW)
    bot.advance(hours=6)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]
    bot.advance(hours=19, minutes=40)  # 08:00 the next day
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ?"]


def test_delete_during_re_asks_stops_them(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    bot.say(user_id, "ばいばい")
    assert bot.last_reply(user_id) == (texts.DELETED,)
    bot.advance(hours=30)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == (texts.NOT_SET,)


def test_show_delete_and_help_replies(bot, user_id):
    bot.say(user_id, "こんにちは")
    assert bot.last_reply(user_id) == (texts.PLEASE_SET_TIME,)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == (texts.NOT_SET,)
    bot.say(user_id, "削除")
    assert bot.last_reply(user_id) == (texts.NOT_SET,)
    bot.say(user_id, "２１：０５")
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("21時5分に設定されています",)
    bot.say(user_id, "こんにちは")
    assert bot.last_reply(user_id) == (texts.HELP,)
    bot.say(user_id, "部屋を掃除した")  # 除 alone never deletes
    assert bot.store.users.load(user_id).times == ((21, 5),)
    bot.say(user_id, "ばいばい")
    assert bot.last_reply(user_id) == (texts.DELETED,)
    assert bot.store.users.load(user_id) is None


def test_impossible_time_changes_nothing(bot, user_id):
    bot.say(user_id, "7時")
    bot.say(user_id, "25時")
    assert "時間がおかしいよ" in bot.last_reply(user_id)[0]
    bot.say(user_id, "7時60分")
    assert "時間がおかしいよ" in bot.last_reply(user_id)[0]
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("7時0分に設定されています",)


def test_every_day_at_the_wall_clock_time(bot, user_id):
    bot.say(user_id, "7時")
    bot.advance(hours=1)
    for _ in range(3):
        bot.say(user_id, "飲んだ")
        bot.advance(hours=24)
    asks = bot.pushes(user_id)
    assert [a.texts[0] for a in asks] == ["飲んだ?"] * 4
    assert bot.gaps(user_id) == [86400] * 3


def test_a_new_time_later_today_before_any_ask_applies_today(bot, user_id):
    bot.say(user_id, "9時")
    bot.say(user_id, "6時30分")
    assert bot.last_reply(user_id) == ("6時30分ですね。わかりました。",)
    bot.advance(minutes=30)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]


def test_a_crowd_due_at_once_is_asked_together(bot):
    users = crowd(bot, 30, "6時30分")
    bot.advance(minutes=30)
    assert all(bot.pushed_texts(uid) == ["飲んだ?"] for uid in users)
    assert send_paths(bot.platform) == [MULTICAST_PATH]  # one request for all thirty
    bot.advance(minutes=10)
    assert all(bot.pushed_texts(uid) == ["飲んだ?", "飲んだ??"] for uid in users)


def test_a_crowd_due_at_once_is_woken_a_few_at_a_time(make_bot, monkeypatch):
    monkeypatch.setattr(system_module, "MAX_WAKING", 4)  # at most 4 due users handled at once
    bot = make_bot()
    users = crowd(bot, 30, "6時30分")
    claims = count_calls(monkeypatch, bot.store.batches, "claim")
    bot.advance(minutes=30)
    assert all(bot.pushed_texts(uid) == ["飲んだ?"] for uid in users)
    batch_sizes = [len(asks) for _, _, asks, _ in claims]
    assert sum(batch_sizes) == 30 and max(batch_sizes) <= 4
    assert bot.system.scheduler.waking == 4      # every slot was given back


def test_a_photo_answers_an_open_reminder_too(bot, user_id, platform):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    photo = platform.make_event("message", user_id, message={
        "id": "1", "type": "image", "quoteToken": "q", "contentProvider": {"type": "line"}})
    assert platform.post_events([photo]) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)


def test_users_setting_the_same_time_wake_the_scheduler_once(bot, monkeypatch):
    bot.timer.settle()                           # its first look (an empty index) is done
    told = count_calls(monkeypatch, bot.system.scheduler, "tell")
    users = crowd(bot, 5, "6時30分")
    bot.say(users[0], "追加 6時20分")            # an earlier moment: the scheduler hears of it
    assert [message.due - bot.timer.now() for message, in told] == [30 * 60, 20 * 60]
    bot.advance(minutes=30)
    assert all(bot.pushed_texts(uid) == ["飲んだ?"] for uid in users[1:])
    assert bot.pushed_texts(users[0]) == ["飲んだ?", "飲んだ??", "飲んだ?"]  # 6:20 twice, 6:30


def test_a_bot_without_users_does_not_keep_looking_for_due_ones(bot, monkeypatch):
    looks = count_calls(monkeypatch, bot.store.due, "claim")
    bot.advance(hours=1)
    assert looks == []                          # it looked once, at its start, and waits
    bot.say("U" + "0" * 32, "7時30分")
    bot.advance(minutes=30)
    assert bot.pushed_texts("U" + "0" * 32) == ["飲んだ?"]
