"""Medicines a patient can recognise: a name for a time's medicine, days of the week and
every other day, through the HTTP surface (signed webhooks in, the LINE stand-in out), a
manual clock from Friday 2026-11-27 06:00 in Tokyo."""
from datetime import datetime

import pytest

from chat import texts
from domain.wallclock import zone
from simulator.line_api import MULTICAST_PATH
from tests.support import send_paths, watched_by

TOKYO = zone("Asia/Tokyo")


def asked_on(bot, user_id):
    """The local dates and texts of the first asks the user was sent."""
    return [(datetime.fromtimestamp(p.at, TOKYO).strftime("%m-%d %a"), p.texts[0])
            for p in bot.pushes(user_id) if p.texts[0].endswith("飲んだ?")]


# -- names -----------------------------------------------------------------------------------
def test_a_named_time_is_asked_by_its_name_and_listed_with_it(bot, user_id):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "8時の薬は血圧の薬")
    assert bot.last_reply(user_id) == ("8時0分の薬を「血圧の薬」にしました。",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("8時0分(血圧の薬)と20時0分に設定されています",)
    bot.advance(hours=2, minutes=10)                      # 8:10
    assert bot.pushed_texts(user_id) == ["血圧の薬、飲んだ?", "血圧の薬、飲んだ??"]
    bot.say(user_id, "飲んだ")
    bot.advance(hours=12)                                 # 20:10
    assert bot.pushed_texts(user_id)[2:] == ["飲んだ?", "飲んだ??"]


def test_naming_refusals_and_clearing(bot, user_id):
    bot.say(user_id, "8時")
    bot.say(user_id, "9時の薬は胃薬")
    assert bot.last_reply(user_id) == ("9時0分は設定されてないですよ",)
    bot.say(user_id, "8時の薬は" + "あ" * 21)
    assert bot.last_reply(user_id) == (texts.NAME_TOO_LONG,)
    bot.say(user_id, "8時の薬は" + "あ" * 20)
    assert bot.last_reply(user_id) == (f"8時0分の薬を「{'あ' * 20}」にしました。",)
    bot.say(user_id, "8時の薬は名前なし")
    assert bot.last_reply(user_id) == ("8時0分の薬の名前を消しました。",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("8時0分に設定されています",)


def test_naming_is_a_command_never_an_answer(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    bot.say(user_id, "6時10分の薬は胃薬")
    assert bot.last_reply(user_id) == ("6時10分の薬を「胃薬」にしました。",)
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "胃薬、飲んだ??"]   # still asking


def test_replacing_the_schedule_keeps_the_names_of_the_times_that_stay(bot, user_id):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "毎週月曜 8時も")
    bot.say(user_id, "8時の薬は血圧の薬")
    bot.say(user_id, "20時の薬は胃薬")
    bot.say(user_id, "8時と21時")                          # 8:00 stays, 20:00 goes
    assert bot.last_reply(user_id) == ("8時0分(血圧の薬・月)と21時0分ですね。わかりました。",)
    bot.say(user_id, "8時と20時")                          # 20:00 comes back without a name
    assert bot.last_reply(user_id) == ("8時0分(血圧の薬・月)と20時0分ですね。わかりました。",)


def test_asks_with_the_same_text_share_a_multicast_and_names_split_them(bot):
    users = [f"U{i:032x}" for i in range(5)]
    for user in users:
        bot.say(user, "6時10分")
    for user in users[:2]:
        bot.say(user, "6時10分の薬は血圧の薬")
    bot.advance(minutes=10)
    assert sorted(send_paths(bot.platform)) == [MULTICAST_PATH, MULTICAST_PATH]
    assert [bot.pushed_texts(user) for user in users] == (
        [["血圧の薬、飲んだ?"]] * 2 + [["飲んだ?"]] * 3)


def test_a_watch_alert_names_the_medicine(bot, user_id):
    watcher = "W" + user_id[1:]
    bot.platform.profiles[watcher] = {"displayName": "太郎"}
    watched_by(bot, watcher, {user_id: "花子"})
    bot.say(user_id, "6時10分")
    bot.say(user_id, "6時10分の薬は血圧の薬")
    bot.advance(hours=2)                                  # missed at 8:00
    assert bot.pushed_texts(watcher)[-1] == "花子さんが6時10分の血圧の薬をまだ飲んでいないようです。"
    bot.say(user_id, "飲んだ")
    bot.advance(seconds=1)
    assert bot.pushed_texts(watcher)[-1] == "花子さんが6時10分の血圧の薬を飲みました。"


# -- days ----------------------------------------------------------------------------------------
def test_days_of_the_week_limit_the_asks(bot, user_id):
    bot.say(user_id, "月水金 8時")
    assert bot.last_reply(user_id) == ("8時0分(月水金)ですね。わかりました。",)
    bot.advance(hours=24 * 7)
    assert [day for day, _ in asked_on(bot, user_id)] == [
        "11-27 Fri", "11-30 Mon", "12-02 Wed"]


def test_a_weekly_medicine_added_with_its_name(bot, user_id):
    bot.say(user_id, "8時")
    bot.say(user_id, "毎週月曜 9時も")
    assert bot.last_reply(user_id) == ("9時0分(月)を追加しました。いまの設定: 8時0分と9時0分(月)",)
    bot.say(user_id, "9時の薬はメトトレキサート")
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("8時0分と9時0分(メトトレキサート・月)に設定されています",)
    bot.advance(hours=24 * 8)
    weekly = [day for day, text in asked_on(bot, user_id) if text.startswith("メトトレキサート")]
    assert weekly == ["11-30 Mon"]


def test_every_other_day_starts_today_when_its_time_is_ahead(bot, user_id):
    bot.say(user_id, "1日おき 21時")
    assert bot.last_reply(user_id) == ("21時0分(1日おき)ですね。わかりました。",)
    bot.advance(hours=24 * 5)
    assert [day for day, _ in asked_on(bot, user_id)] == ["11-27 Fri", "11-29 Sun", "12-01 Tue"]


def test_day_words_in_every_form(bot, user_id):
    for said, listed in [("毎週月曜 8時", "8時0分(月)"), ("月曜と木曜の8時", "8時0分(月木)"),
                         ("土日 9時", "9時0分(土日)"), ("隔日 21時", "21時0分(1日おき)"),
                         ("毎日 7時", "7時0分"), ("水曜日・金曜日 8時と20時",
                                                "8時0分(水金)と20時0分(水金)")]:
        bot.say(user_id, said)
        assert bot.last_reply(user_id) == (f"{listed}ですね。わかりました。",), said


def test_adding_a_time_that_is_set_changes_its_days_or_says_it_is_set(bot, user_id):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "8時の薬は血圧の薬")
    bot.say(user_id, "20時も")
    assert bot.last_reply(user_id) == (
        "20時0分はもう設定されていますよ。いまの設定: 8時0分(血圧の薬)と20時0分",)
    bot.say(user_id, "月水金 8時も")                      # new days, the name stays
    assert bot.last_reply(user_id) == (
        "8時0分(血圧の薬・月水金)を追加しました。いまの設定: 8時0分(血圧の薬・月水金)と20時0分",)
    bot.say(user_id, "月水金 8時も")
    assert bot.last_reply(user_id) == ("8時0分(血圧の薬・月水金)はもう設定されていますよ。"
                                       "いまの設定: 8時0分(血圧の薬・月水金)と20時0分",)
    bot.say(user_id, "8時を削除")                         # whatever its days
    assert bot.last_reply(user_id) == (
        "8時0分(血圧の薬・月水金)を削除しました。いまの設定: 20時0分",)


def test_days_with_nothing_asked_stay_blank_in_the_history(bot, user_id):
    bot.say(user_id, "月水金 6時10分")
    for _ in range(6):                                    # Fri .. Wed, answered each time
        bot.advance(minutes=10)
        if bot.pushed_texts(user_id)[-1:] == ["飲んだ?"]:
            bot.say(user_id, "飲んだ")
        bot.advance(hours=23, minutes=50)
    bot.say(user_id, "記録")
    [card] = [r for r in bot.platform.replies if r.to == user_id][-1:]
    alt = card.texts[0]
    assert alt.startswith("記録(直近28日): ○3日 △0日 ×0日")


# -- a time mentioned in passing ---------------------------------------------------------------
def buttons_of_last_reply(platform, user_id):
    """(label, postback data) of the quick reply under the last message replied to the user."""
    replied = [messages for kind, to, messages in platform.observed if to == user_id]
    items = replied[-1][-1]["quickReply"]["items"]
    return {item["action"]["label"]: item["action"]["data"] for item in items}


@pytest.fixture
def observed(platform):
    platform.observed = []
    platform.observers.append(lambda kind, to, messages: platform.observed.append(
        (kind, to, messages)))
    return platform


def test_a_time_in_passing_asks_before_it_replaces_several_times(bot, user_id, observed):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "明日は10時に病院です")
    assert bot.last_reply(user_id) == ("10時0分に変えますか?\nいまの設定: 8時0分と20時0分",)
    buttons = buttons_of_last_reply(observed, user_id)
    assert list(buttons) == ["変える", "そのまま"]
    bot.tap(user_id, buttons["そのまま"])
    assert bot.last_reply(user_id) == ("いまの設定のままにしました。",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("8時0分と20時0分に設定されています",)
    bot.tap(user_id, buttons["変える"])
    assert bot.last_reply(user_id) == ("10時0分ですね。わかりました。",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("10時0分に設定されています",)


def test_a_change_asked_about_before_the_schedule_changed_changes_nothing(bot, user_id,
                                                                          observed):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "10時から会議")
    change = buttons_of_last_reply(observed, user_id)["変える"]
    bot.say(user_id, "21時も")                            # the schedule changed meanwhile
    bot.tap(user_id, change)
    assert bot.last_reply(user_id) == ("いまの設定のままにしました。",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("8時0分と20時0分と21時0分に設定されています",)


def test_a_named_or_weekly_time_is_asked_about_too_a_plain_one_is_replaced(bot, observed):
    named, weekly, plain = "Unamed", "Uweekly", "Uplain"
    bot.say(named, "8時")
    bot.say(named, "8時の薬は血圧の薬")
    bot.say(weekly, "月水金 8時")
    bot.say(plain, "8時")
    for user in (named, weekly, plain):
        bot.say(user, "明日は10時に病院です")
    assert bot.last_reply(named)[0].startswith("10時0分に変えますか?")
    assert bot.last_reply(weekly) == ("10時0分に変えますか?\nいまの設定: 8時0分(月水金)",)
    assert bot.last_reply(plain) == ("10時0分ですね。わかりました。",)  # as it always did
    # The days said in the message come with the change.
    bot.say(weekly, "火木 9時からで")
    bot.tap(weekly, buttons_of_last_reply(observed, weekly)["変える"])
    assert bot.last_reply(weekly) == ("9時0分(火木)ですね。わかりました。",)


def test_a_message_that_is_only_a_schedule_replaces_it_as_before(bot, user_id):
    bot.say(user_id, "8時と20時")
    for said, listed in [("朝8時、夜9時にお願い", "8時0分と21時0分"), ("毎朝7時です。", "7時0分"),
                         ("8時と22時に変更", "8時0分と22時0分"), ("8:00 20:00", "8時0分と20時0分")]:
        bot.say(user_id, said)
        assert bot.last_reply(user_id) == (f"{listed}ですね。わかりました。",), said


def test_a_time_in_passing_is_not_an_answer(bot, user_id):
    bot.say(user_id, "6時10分と20時")
    bot.advance(minutes=10)
    bot.say(user_id, "10時から会議")
    assert bot.last_reply(user_id)[0].startswith("10時0分に変えますか?")
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]


def test_a_time_asked_today_replaced_by_a_weekly_one_says_when_it_starts(bot):
    weekly, every_other = "Uweekly", "Uevery_other"
    for user in (weekly, every_other):
        bot.say(user, "6時10分")
    bot.advance(minutes=10)                               # Friday's 6:10 was asked
    bot.say(weekly, "月水金 21時")
    assert bot.last_reply(weekly) == ("21時0分(月水金)ですね。わかりました。",
                                      "今日はもう聞いたので、11月30日から聞きますね。")
    bot.say(every_other, "1日おき 21時")                  # today's 21:00 would have been
    assert bot.last_reply(every_other) == ("21時0分(1日おき)ですね。わかりました。",
                                           "今日はもう聞いたので、明日から聞きますね。")
    bot.advance(hours=48)                                 # Sunday 6:20
    asked = [datetime.fromtimestamp(p.at, TOKYO).day for p in bot.pushes(every_other)
             if p.texts[0] == "飲んだ?"]
    assert asked == [27, 28]                              # Friday's 6:10, then Saturday
