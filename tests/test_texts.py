import re
from pathlib import Path

import pytest

from chat import texts

README = Path(__file__).resolve().parent.parent / "README.md"


def test_time_set_uses_plain_integers():
    assert texts.times_set([(7, 5)]) == "7時5分ですね。わかりました。"
    assert texts.times_set([(0, 0)]) == "0時0分ですね。わかりました。"
    assert texts.times_set([(23, 59)]) == "23時59分ですね。わかりました。"


def test_current_setting():
    assert texts.current_setting([(7, 5)]) == "7時5分に設定されています"
    assert texts.current_setting([(21, 30)]) == "21時30分に設定されています"
    assert texts.current_setting([(20, 0), (8, 0)]) == "8時0分と20時0分に設定されています"
    assert texts.current_setting([(8, 0)], zone="Europe/London", watchers=["花子", "太郎"]) == (
        "8時0分に設定されています\nタイムゾーン: Europe/London\n見守り: 花子さん、太郎さん")
    assert texts.current_setting([(8, 0)], watching=["次郎", "花子"]) == (
        "8時0分に設定されています\n見守っている人: 次郎さん、花子さん")
    assert texts.current_setting([]) == "設定されてないですよ"
    assert texts.current_setting([], zone="Europe/London", watchers=["太郎"],
                                 watching=["次郎"]) == (
        "設定されてないですよ\nタイムゾーン: Europe/London\n見守り: 太郎さん\n見守っている人: 次郎さん")


def test_several_times_texts():
    assert texts.times_set([(20, 0), (8, 0)]) == "8時0分と20時0分ですね。わかりました。"
    assert texts.times_added([(20, 0)], [(8, 0), (20, 0)]) == (
        "20時0分を追加しました。いまの設定: 8時0分と20時0分")
    assert texts.times_removed([(20, 0)], [(8, 0)]) == "20時0分を削除しました。いまの設定: 8時0分"
    assert texts.times_removed([(8, 0)], []) == "8時0分を削除しました。設定がなくなりました"
    assert texts.times_not_set([(9, 0)]) == "9時0分は設定されてないですよ"
    assert texts.TOO_MANY_TIMES == "設定できるのは5つまでです"
    assert texts.history_summary(20, 3, 2) == "記録(直近28日): ○20日 △3日 ×2日"


def test_ask_buttons_name_their_round():
    assert texts.ask_buttons(1795734000.0) == (("飲んだ!", "took:1795734000"),
                                               ("あとで", "later:1795734000"))
    assert texts.read_postback("took:1795734000") == ("took", 1795734000)
    assert texts.read_postback("later:1795734000") == ("later", 1795734000)
    assert texts.read_postback("took") == ("took", None)   # asks sent before rounds had ids
    assert texts.read_postback("later") == ("later", None)


def test_the_time_pickers_postback():
    assert texts.read_postback("pick-time") == ("pick-time", None)
    assert texts.picked_time({"time": "07:05"}) == (7, 5)
    assert texts.picked_time({"time": "00:00"}) == (0, 0)
    assert texts.picked_time({"time": "23:59"}) == (23, 59)
    for params in (None, {}, {"time": "24:00"}, {"time": "7:05"}, {"time": "07:05:00"},
                   {"date": "2026-11-27"}, {"time": "0７:05"}):
        assert texts.picked_time(params) is None


@pytest.mark.parametrize("data", [
    "", "storeId=12345", "richmenu-changed-to-b", "action=buyItem&itemId=123123&color=red",
    "took:", "later:x", "took:1795734000:1", "took:²", "took:１７９５", "Took", " took",
    "took:" + "9" * 5000, "飲んだ", "tooklater",
    "pick-time:1", "Pick-time", " pick-time", "action=sel&only=time",   # not the time picker's
])
def test_postback_data_the_bot_never_makes_is_not_a_button(data):
    assert texts.read_postback(data) is None


@pytest.mark.parametrize(
    "attempt, text",
    [(0, "飲んだ?"), (1, "飲んだ??"), (2, "飲んだ???"), (10, "飲んだ" + "?" * 11)],
)
def test_ask(attempt, text):
    assert texts.ask(attempt) == text


def test_ask_rejects_negative_attempt():
    with pytest.raises(ValueError):
        texts.ask(-1)


def test_fixed_texts():
    assert texts.TIME_SET_FROM_TOMORROW == "今日はもう聞いたので、明日から聞きますね。"
    assert texts.BAD_TIME == "時間がおかしいよ。0時0分から23時59分の間で教えてね。"
    assert texts.NOT_SET == "設定されてないですよ"
    assert texts.DELETED == "設定を削除しました。 ばいばい"  # ASCII space
    assert texts.WELL_DONE == "よくできました"
    assert texts.PLEASE_SET_TIME == "時間を設定してください"
    assert texts.LATER == "わかりました。また後で聞きますね。"


def test_quick_reply():
    assert (texts.QUICK_TOOK, texts.QUICK_LATER) == ("飲んだ!", "あとで")
    assert (texts.POSTBACK_TOOK, texts.POSTBACK_LATER) == ("took", "later")


# Every command the help teaches, as it is written there, and what it is.
HELP_COMMANDS = {
    "7時30分": "set a time", "8時と20時": "set times", "20時も": "add a time",
    "追加 13時": "add a time", "20時を削除": "delete a time",
    "時間を選ぶ": "the picker (quick reply)", "時間を追加": "the picker (rich menu)",
    "月水金 8時": "days of the week", "毎週月曜 8時も": "days, added",
    "1日おき 21時": "every other day", "8時の薬は血圧の薬": "name a time",
    "設定教えて": "show the setting", "記録": "the history", "見守り": "a watch code",
    "見守り解除": "end the watches", "タイムゾーン Europe/London": "the zone",
    "位置情報": "the zone from a location pin", "ばいばい": "delete every time",
}


def test_the_help_teaches_every_command(bot, user_id):
    bot.say(user_id, "使い方")
    [help_text] = bot.last_reply(user_id)
    assert help_text == texts.HELP and help_text.startswith("使い方\n")
    missing = [command for command in HELP_COMMANDS if command not in help_text]
    assert missing == []
    assert "直近4週間の記録" in help_text          # the chat page's test looks for it
    assert help_text in README.read_text(encoding="utf-8")   # the README shows it exactly


def test_the_helps_examples_are_the_commands_they_teach():
    from chat.parse import (
        HistoryQuery, Naming, Removal, SettingQuery, Times, WatchEnd, WatchRequest, ZoneChange,
        parse,
    )
    from domain.days import DayWords, weekday_mask
    # Every example the help gives: 「…」 and the ones after 例:, read out of HELP itself.
    quoted = re.findall(r"「([^」]+)」", texts.HELP)
    listed = [example for examples in re.findall(r"例: ([^)]+)\)", texts.HELP)
              for example in examples.split(" / ")]
    means = {
        "7時30分": Times(((7, 30),)), "21:00": Times(((21, 0),)),
        "8時と20時": Times(((8, 0), (20, 0))), "20時も": Times(((20, 0),), add=True),
        "追加 13時": Times(((13, 0),), add=True), "20時を削除": Removal(((20, 0),)),
        "月水金 8時": Times(((8, 0),), days=DayWords(weekday_mask([0, 2, 4]))),
        "毎週月曜 8時も": Times(((8, 0),), add=True, days=DayWords(weekday_mask([0]))),
        "1日おき 21時": Times(((21, 0),), days=DayWords(every_other=True)),
        "8時の薬は血圧の薬": Naming((8, 0), "血圧の薬"), "設定教えて": SettingQuery(),
        "記録": HistoryQuery(), "見守り": WatchRequest(), "見守り解除": WatchEnd(),
        "タイムゾーン Europe/London": ZoneChange("Europe/London"), "ばいばい": Removal(()),
    }
    buttons = {"時間を選ぶ", "時間を追加", "飲んだ?"}   # a button and a menu area; the ask
    assert set(quoted + listed) - buttons == set(means)
    for example, intent in means.items():
        assert parse(example) == intent, example


def test_greeting_introduces_the_rabbit_and_asks_for_a_time():
    greeting = texts.greeting(600)
    assert "管理上手のうさちゃん" in greeting and "10分ごと" in greeting
    assert "設定教えて" in greeting and "ばいばい" in greeting
    assert greeting.rstrip().endswith("教えてね(例: 7時30分 / 21:00)")
    assert "1分ごと" in texts.greeting(60) and "5秒ごと" in texts.greeting(5)


def test_one_to_one_only_mentions_one_to_one():
    assert "1対1" in texts.ONE_TO_ONE_ONLY


def test_quick_later_label_parses_as_later():
    from chat.parse import Later, parse

    assert parse(texts.QUICK_LATER) == Later()


def test_watch_and_zone_texts():
    assert texts.watch_code("012345").startswith("見守りコード: 012345\n")
    assert texts.watching_started("花子") == "花子さんの見守りを始めました。飲み忘れたときにお知らせします。"
    assert texts.watched_by("太郎") == "太郎さんが見守りを始めました。"
    assert texts.already_watching("花子") == "すでに花子さんを見守っています。"
    assert texts.missed_alert("花子", 8, 0) == "花子さんが8時0分の薬をまだ飲んでいないようです。"
    assert texts.taken_alert("花子", 20, 5) == "花子さんが20時5分の薬を飲みました。"
    assert texts.watch_over("太郎") == "太郎さんの見守りが終わりました。"
    assert (texts.CODE_NOT_FOUND, texts.OWN_CODE, texts.TRY_LATER, texts.TOO_MANY_WATCHERS) == (
        "そのコードは見つかりませんでした。", "自分のコードは使えません。",
        "しばらくしてからもう一度試してください。", "見守りは3人までです。")
    assert (texts.WATCH_ENDED, texts.NO_WATCH, texts.SOMEONE) == (
        "見守りを解除しました。", "見守りは設定されていません。", "友だち")
    assert texts.zone_set("Europe/London") == (
        "タイムゾーンをEurope/Londonにしました。時間はこの地域の時刻で聞きます。")
