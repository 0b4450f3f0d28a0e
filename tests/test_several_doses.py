"""Several reminders a day (docs/design.md, Several times a day), through the HTTP surface:
signed webhooks in, the LINE stand-in out, a manual clock from 06:00 in Tokyo."""
import orjson

from chat import texts
from storage import keys
from tests.conftest import WHOLE_DAY


def test_several_times_replace_the_schedule_and_each_is_asked(bot, user_id):
    bot.say(user_id, "8時と20時")
    assert bot.last_reply(user_id) == ("8時0分と20時0分ですね。わかりました。",)
    bot.advance(hours=2)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]          # 8:00
    bot.say(user_id, "飲んだ")
    bot.advance(hours=12)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ?"]  # 20:00 has its own round
    bot.say(user_id, "朝7時、夜9時")            # 20:00 was asked today: 21:00 from tomorrow
    assert bot.last_reply(user_id) == ("7時0分と21時0分ですね。わかりました。",
                                       texts.TIME_SET_FROM_TOMORROW)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("7時0分と21時0分に設定されています",)


def test_one_time_is_exactly_the_one_time_text(bot, user_id):
    bot.say(user_id, "7時半")
    assert bot.last_reply(user_id) == ("7時30分ですね。わかりました。",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("7時30分に設定されています",)


def test_adding_times(bot, user_id):
    bot.say(user_id, "8時")
    bot.say(user_id, "20時も")
    assert bot.last_reply(user_id) == ("20時0分を追加しました。いまの設定: 8時0分と20時0分",)
    bot.say(user_id, "追加 13時")
    assert bot.last_reply(user_id) == ("13時0分を追加しました。いまの設定: 8時0分と13時0分と20時0分",)
    bot.advance(hours=15)
    assert [p.texts[0] for p in bot.pushes(user_id)].count("飲んだ?") == 3


def test_removing_some_times_and_then_the_last(bot, user_id):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "20時を削除")
    assert bot.last_reply(user_id) == ("20時0分を削除しました。いまの設定: 8時0分",)
    bot.say(user_id, "9時を削除")
    assert bot.last_reply(user_id) == ("9時0分は設定されてないですよ",)
    bot.say(user_id, "解除 8時")
    assert bot.last_reply(user_id) == ("8時0分を削除しました。設定がなくなりました",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == (texts.NOT_SET,)
    bot.advance(hours=24)
    assert bot.pushes(user_id) == []


def test_a_delete_word_alone_removes_every_time(bot, user_id):
    bot.say(user_id, "8時と20時")
    bot.say(user_id, "ばいばい")
    assert bot.last_reply(user_id) == (texts.DELETED,)
    assert bot.store.users.load(user_id) is None


def test_a_sixth_time_is_refused_and_nothing_changes(bot, user_id):
    bot.say(user_id, "7時と9時と12時と18時と21時")
    bot.say(user_id, "22時も")
    assert bot.last_reply(user_id) == ("設定できるのは5つまでです",)
    bot.say(user_id, "1時と2時と3時と4時と5時と6時")
    assert bot.last_reply(user_id) == ("設定できるのは5つまでです",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == (
        "7時0分と9時0分と12時0分と18時0分と21時0分に設定されています",)


def test_overlapping_rounds_each_ask_on_their_own(bot, user_id):
    bot.say(user_id, "8時と8時15分")
    start = bot.timer.now()
    bot.advance(hours=4)
    asks = [(round((p.at - start) / 60), p.texts[0]) for p in bot.pushes(user_id)]
    eight = [(120 + 10 * k, texts.ask(k)) for k in range(11)]
    quarter = [(135 + 10 * k, texts.ask(k)) for k in range(11)]
    assert sorted(asks) == sorted(eight + quarter)


def test_a_text_answer_answers_every_open_round(bot, user_id):
    bot.say(user_id, "8時と8時15分")
    bot.advance(hours=2, minutes=18)             # 8:00 asked twice, 8:15 once
    bot.say(user_id, "飲んだ")
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??", "飲んだ?"]


def test_a_button_answers_only_the_round_it_was_sent_with(bot, user_id, platform):
    sent = []
    platform.observers.append(lambda kind, uid, messages: sent.append(messages))
    bot.say(user_id, "8時と8時15分")
    bot.advance(hours=2, minutes=18)             # 8:00 asked twice, 8:15 once
    eight_first = bot.pushes(user_id)[0]
    [took, _] = eight_first.quick_reply
    assert took == texts.QUICK_TOOK
    round_8 = [data for label, data in texts.ask_buttons(eight_first.at)][0]
    [eight_reask] = [m for [m] in sent if m["text"] == texts.ask(1)]
    assert eight_reask["quickReply"]["items"][0]["action"]["data"] == round_8   # as sent
    bot.tap(user_id, round_8)
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    bot.advance(hours=3)
    after = [p.texts[0] for p in bot.pushes(user_id) if p.at > eight_first.at + 1200]
    assert after == [texts.ask(k) for k in range(1, 11)]   # only 8:15's re-asks go on
    assert len(bot.pushes(user_id)) == 2 + 11


def test_the_ask_buttons_name_their_round(bot, user_id, platform):
    sent = []
    platform.observers.append(lambda kind, uid, messages: sent.append(messages))
    bot.say(user_id, "8時")
    bot.advance(hours=2)
    [ask] = sent[-1]
    datas = [item["action"]["data"] for item in ask["quickReply"]["items"]]
    at = int(bot.pushes(user_id)[0].at)
    assert datas == [f"took:{at}", f"later:{at}"]


def test_removing_a_time_cancels_its_open_round(bot, user_id):
    bot.say(user_id, "8時と20時")
    bot.advance(hours=2, minutes=5)
    bot.say(user_id, "8時を削除")
    bot.advance(hours=2)
    assert bot.pushed_texts(user_id) == ["飲んだ?"]
    bot.advance(hours=10)                        # 20:05: the time kept is still asked
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ?"]


def test_commands_are_never_an_answer(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    for command in ("設定教えて", "記録", "使い方", "20時も"):
        bot.say(user_id, command)
        assert bot.last_reply(user_id) != (texts.WELL_DONE,), command
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]   # still asking
    bot.say(user_id, "はい")
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)


def test_a_late_answer_gets_well_done(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(hours=3)                          # missed at 8:00
    bot.say(user_id, "こんにちは")                # not an answer: the round has ended
    assert bot.last_reply(user_id) == (texts.HELP,)
    bot.say(user_id, "飲みました")
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    assert bot.store.users.load(user_id).doses[0].state == "late"


def test_a_new_time_replacing_one_asked_today_waits_for_tomorrow(bot, user_id):
    bot.say(user_id, "6時10分と20時")
    bot.advance(minutes=15)
    bot.say(user_id, "6時30分と20時")            # 6:10 was asked: 6:30 starts tomorrow
    assert bot.last_reply(user_id) == ("6時30分と20時0分ですね。わかりました。",
                                       texts.TIME_SET_FROM_TOMORROW)
    bot.advance(hours=14)                        # 20:15
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ?", "飲んだ??"]  # 6:10, 20:00


def test_a_record_of_the_one_time_version_keeps_working(bot, user_id, redis_client):
    due = bot.timer.now() + 600
    redis_client.set(keys.ONE_REDIS.user(user_id), orjson.dumps(
        {"h": 6, "m": 10, "tz": None, "day": None, "round": None, "asks": 0, "ans": None,
         "due": due, "v": 3}))
    redis_client.delete(keys.DUE_INDEXED)  # as the first start of this version finds it
    bot.restart()
    bot.advance(hours=3)
    assert bot.pushed_texts(user_id) == WHOLE_DAY
    bot.say(user_id, "20時も")
    assert bot.last_reply(user_id) == ("20時0分を追加しました。いまの設定: 6時10分と20時0分",)


def test_users_asked_at_the_same_moment_share_one_multicast_whatever_their_other_times(bot):
    users = [f"U{n:032x}" for n in range(6)]
    for n, uid in enumerate(users):
        bot.say(uid, "6時30分" if n % 2 else f"6時30分と{18 + n}時")
    bot.advance(minutes=30)
    sends = [r for r in bot.platform.requests if r.path.endswith(("/push", "/multicast"))]
    assert len(sends) == 1 and all(bot.pushed_texts(uid) == ["飲んだ?"] for uid in users)


def test_naming_more_times_to_delete_than_can_be_set_says_which_are_not_set(bot, user_id):
    bot.say(user_id, "1時と2時")
    bot.say(user_id, "1時と2時と3時と4時と5時と6時を削除")
    assert bot.last_reply(user_id) == ("3時0分と4時0分と5時0分と6時0分は設定されてないですよ",)
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("1時0分と2時0分に設定されています",)
