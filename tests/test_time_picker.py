"""The time picker (LINE's datetimepicker in time mode): under the greeting, 時間を設定してください
and the help, and in the rich menu. A picked time comes back as a postback with params.time
("HH:mm") and is set or added as a typed one is; it never answers a round."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from linebot.v3.messaging import DatetimePickerAction, TextMessage

from chat import texts

PICKER = {"type": "datetimepicker", "label": "時間を選ぶ", "data": "pick-time", "mode": "time"}


def with_picker(text):
    """A text message with the picker as its quick reply, as LINE takes it."""
    return {"type": "text", "quickReply": {"items": [{"action": PICKER, "type": "action"}]},
            "text": text}


def last_reply_messages(bot, user_id):
    return [r for r in bot.platform.replies if r.to == user_id][-1].messages


def pick(bot, user_id, time):
    bot.tap(user_id, texts.POSTBACK_PICK_TIME, {"time": time})


def tokyo(hour, minute, day=27):
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def test_the_picker_is_the_sdks_datetimepicker_in_time_mode():
    assert DatetimePickerAction(label="時間を選ぶ", data="pick-time", mode="time").to_dict() == (
        PICKER)
    assert TextMessage.from_dict(with_picker(texts.HELP)).to_dict() == with_picker(texts.HELP)


def test_the_greeting_please_set_time_and_the_help_carry_the_picker(bot, user_id, platform):
    assert platform.follow(user_id) == 200
    bot.timer.settle()
    assert last_reply_messages(bot, user_id) == (with_picker(texts.greeting(600)),)
    bot.say(user_id, "こんにちは")
    assert last_reply_messages(bot, user_id) == (with_picker(texts.PLEASE_SET_TIME),)
    bot.say(user_id, "使い方")
    assert last_reply_messages(bot, user_id) == (with_picker(texts.HELP),)
    bot.say(user_id, "8時")
    bot.say(user_id, "こんにちは")                # nothing open: the help, with the picker
    assert last_reply_messages(bot, user_id) == (with_picker(texts.HELP),)
    bot.say(user_id, "設定教えて")                # other replies have no quick reply
    assert last_reply_messages(bot, user_id) == (
        {"type": "text", "text": "8時0分に設定されています"},)


def test_a_picked_time_is_the_schedule_when_none_is_set_and_is_asked_then(bot, user_id):
    pick(bot, user_id, "06:10")
    assert bot.last_reply(user_id) == ("6時10分ですね。わかりました。",)
    assert bot.store.users.load(user_id).times == ((6, 10),)
    bot.advance(minutes=10)
    [ask] = bot.pushes(user_id)
    assert (ask.texts, ask.at) == (("飲んだ?",), tokyo(6, 10))


def test_a_picked_time_is_added_like_a_time_sent_with_mo(bot, user_id):
    other = user_id + "x"
    for user in (user_id, other):
        bot.say(user, "8時")
    pick(bot, user_id, "20:15")
    bot.say(other, "20時15分も")
    assert bot.last_reply(user_id) == bot.last_reply(other) == (
        "20時15分を追加しました。いまの設定: 8時0分と20時15分",)
    assert bot.store.users.load(user_id).times == ((8, 0), (20, 15))
    bot.advance(hours=14, minutes=15)
    first_asks = [p.at for p in bot.pushes(user_id) if p.texts == ("飲んだ?",)]
    assert first_asks == [tokyo(8, 0), tokyo(20, 15)]


def test_a_sixth_time_picked_is_refused_as_a_sixth_time_sent(bot, user_id):
    bot.say(user_id, "6時と7時と8時と9時と10時")
    pick(bot, user_id, "23:59")
    assert bot.last_reply(user_id) == (texts.TOO_MANY_TIMES,)
    assert len(bot.store.users.load(user_id).times) == 5


@pytest.mark.parametrize("params", [
    None, {}, {"date": "2026-11-27"}, {"datetime": "2026-11-27T07:30"}, {"time": ""},
    {"time": "24:00"}, {"time": "07:60"}, {"time": "7:30"}, {"time": "07:30:00"},
    {"time": "０７:３０"}, {"time": " 07:30"},
])
def test_a_picker_postback_without_a_time_that_exists_gets_the_bad_time_reply(
        bot, user_id, params):
    bot.tap(user_id, texts.POSTBACK_PICK_TIME, params)
    assert bot.last_reply(user_id) == (texts.BAD_TIME,)
    assert bot.store.users.load(user_id) is None


def test_midnight_and_the_last_minute_of_the_day_are_times(bot, user_id):
    pick(bot, user_id, "00:00")
    pick(bot, user_id, "23:59")
    assert bot.last_reply(user_id) == ("23時59分を追加しました。いまの設定: 0時0分と23時59分",)


def test_a_picked_time_during_an_open_round_does_not_answer_it(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)                                  # 飲んだ? is open
    pick(bot, user_id, "21:00")
    assert bot.last_reply(user_id) == ("21時0分を追加しました。いまの設定: 6時10分と21時0分",)
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]   # the re-asks go on
    [six_ten, _] = bot.store.users.load(user_id).doses
    assert six_ten.is_open
    [(_, took), _] = texts.ask_buttons(bot.pushes(user_id)[0].at)
    bot.tap(user_id, took)
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)      # its own 飲んだ! still does


def test_another_tools_time_picker_is_not_the_bots(bot, user_id, platform):
    tapped = platform.make_postback_event(user_id, "action=sel&only=time", {"time": "15:38"})
    assert platform.post_events([tapped]) == 200
    bot.timer.settle()
    assert [r for r in platform.replies if r.reply_token == tapped["replyToken"]] == []
    assert bot.store.users.load(user_id) is None
