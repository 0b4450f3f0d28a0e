"""Family watch (見守り, docs/design.md, Family watch) through the HTTP surface: signed webhooks
in, the LINE stand-in out (display names from its profile API), a manual clock from 06:00 in
Tokyo."""
import re

import gevent
import pytest
import urllib3

from chat import texts
from settings import Settings
from storage.watches import CODE_TTL, WRONG_CODE_WINDOW
from tests.conftest import on_one_redis_and_a_cluster
from tests.support import (
    advance_together, count_calls, let_the_dead_senders_lease_run_out, new_user_id,
)

redis_client = on_one_redis_and_a_cluster()

HANAKO, TARO, JIRO, SABURO, SHIRO = "花子", "太郎", "次郎", "三郎", "四郎"


@pytest.fixture
def people(platform):
    """Five LINE users with display names: A is watched, the others may watch."""
    ids = {}
    for name in (HANAKO, TARO, JIRO, SABURO, SHIRO):
        ids[name] = new_user_id()
        platform.profiles[ids[name]] = {"displayName": name}
    return ids


def code_of(bot, user_id):
    bot.say(user_id, "見守り")
    [reply] = bot.last_reply(user_id)
    first_line, explanation = reply.split("\n", 1)
    assert re.fullmatch(r"見守りコード: [0-9]{6}", first_line)
    assert "24時間" in explanation and "友だち追加" in explanation
    return first_line.split(": ")[1]


def wait_for_push(bot, user_id, text):
    bot.platform.wait_for(lambda platform: text in bot.pushed_texts(user_id), timeout=5,
                          what=f"the push {text!r}")


def watch(bot, watched, watcher):
    code = code_of(bot, watched)
    bot.say(watcher, code)
    return code


def test_a_watch_starts_with_a_code_given_by_the_person_watched(bot, people):
    a, b = people[HANAKO], people[TARO]
    code = code_of(bot, a)
    bot.say(b, code)
    assert bot.last_reply(b) == ("花子さんの見守りを始めました。飲み忘れたときにお知らせします。",)
    wait_for_push(bot, a, "太郎さんが見守りを始めました。")
    bot.say(a, "7時")
    bot.say(a, "設定教えて")
    assert bot.last_reply(a) == ("7時0分に設定されています\n見守り: 太郎さん",)


def test_the_setting_tells_the_zone_and_the_watches_with_or_without_a_time(bot, people):
    a = people[HANAKO]
    watch(bot, a, people[TARO])                       # 太郎 watches 花子
    # 花子 watches 次郎 and 三郎, begun in the reverse of the order of their ids
    first, second = sorted((people[JIRO], people[SABURO]), reverse=True)
    for watched in (first, second):
        watch(bot, watched, a)
        bot.advance(seconds=1)
    names = {people[JIRO]: "次郎さん", people[SABURO]: "三郎さん"}
    watching = f"見守っている人: {names[first]}、{names[second]}"
    bot.say(a, "設定教えて")
    assert bot.last_reply(a) == (f"設定されてないですよ\n見守り: 太郎さん\n{watching}",)
    bot.say(a, "タイムゾーン Europe/London")
    bot.say(a, "7時")
    bot.say(a, "設定教えて")
    assert bot.last_reply(a) == (
        f"7時0分に設定されています\nタイムゾーン: Europe/London\n見守り: 太郎さん\n{watching}",)
    bot.say(a, "ばいばい")                             # the times go; the zone and watches stay
    bot.say(a, "設定教えて")
    assert bot.last_reply(a) == (
        f"設定されてないですよ\nタイムゾーン: Europe/London\n見守り: 太郎さん\n{watching}",)
    bot.say(people[SHIRO], "設定教えて")               # nothing at all
    assert bot.last_reply(people[SHIRO]) == ("設定されてないですよ",)


def test_spaced_or_full_width_digits_are_a_code_too(bot, people):
    code = code_of(bot, people[HANAKO])
    spaced = " ".join(code[i:i + 2] for i in (0, 2, 4)).translate(
        str.maketrans("0123456789", "０１２３４５６７８９"))
    bot.say(people[TARO], spaced)
    assert bot.last_reply(people[TARO])[0].startswith("花子さんの見守りを始めました")


def test_a_person_line_cannot_name_is_a_friend(bot, platform):
    a, b = new_user_id(), new_user_id()   # no profile: LINE answers 404
    watch(bot, a, b)
    assert bot.last_reply(b) == ("友だちさんの見守りを始めました。飲み忘れたときにお知らせします。",)
    wait_for_push(bot, a, "友だちさんが見守りを始めました。")


def test_wrong_own_used_and_replaced_codes(bot, people, redis_client):
    a, b, c = people[HANAKO], people[TARO], people[JIRO]
    first = code_of(bot, a)
    assert 0 < redis_client.ttl(bot.store.keys.watch_code(first)) <= CODE_TTL   # valid 24 h
    second = code_of(bot, a)                        # a new code replaces the unused one
    bot.say(b, first)
    assert bot.last_reply(b) == ("そのコードは見つかりませんでした。",)
    bot.say(a, second)
    assert bot.last_reply(a) == ("自分のコードは使えません。",)
    bot.say(b, second)
    assert bot.last_reply(b)[0].startswith("花子さんの見守りを始めました")
    bot.say(c, second)                              # single use
    assert bot.last_reply(c) == ("そのコードは見つかりませんでした。",)


def test_the_code_of_someone_already_watched_changes_nothing_and_stays_usable(bot, people,
                                                                            redis_client):
    a, b, c = people[HANAKO], people[TARO], people[JIRO]
    watch(bot, a, b)
    wait_for_push(bot, a, "太郎さんが見守りを始めました。")
    code = code_of(bot, a)
    pushes_before = len(bot.platform.pushes)
    bot.say(b, code)
    assert bot.last_reply(b) == ("すでに花子さんを見守っています。",)
    layout = bot.store.keys
    assert redis_client.get(layout.watch_code(code)) == a.encode()      # not used up
    assert redis_client.get(layout.watch_code_of(a)) == code.encode()
    assert redis_client.get(layout.watch_failures(b)) is None           # not a wrong code
    bot.say(c, code)                                                  # someone else still can
    assert bot.last_reply(c)[0].startswith("花子さんの見守りを始めました")
    wait_for_push(bot, a, "次郎さんが見守りを始めました。")
    assert [(p.to, p.texts) for p in bot.platform.pushes[pushes_before:]] == [
        (a, ("次郎さんが見守りを始めました。",))]                      # b's code told nobody
    assert bot.system.watches.watchers(a) == sorted([b, c])


def test_five_wrong_codes_in_an_hour_and_then_even_the_right_one_is_refused(bot, people,
                                                                          redis_client):
    a, guesser = people[HANAKO], people[TARO]
    code = code_of(bot, a)
    wrong = [f"{(int(code) + n) % 10 ** 6:06d}" for n in range(1, 6)]
    for guess in wrong:
        bot.say(guesser, guess)
        assert bot.last_reply(guesser) == ("そのコードは見つかりませんでした。",)
    # the count is for this hour only
    assert 0 < redis_client.ttl(bot.store.keys.watch_failures(guesser)) <= WRONG_CODE_WINDOW
    bot.say(guesser, code)
    assert bot.last_reply(guesser) == ("しばらくしてからもう一度試してください。",)
    assert bot.system.watches.watchers(a) == []
    bot.say(people[JIRO], code)                     # someone else is not refused
    assert bot.last_reply(people[JIRO])[0].startswith("花子さんの見守りを始めました")


def test_two_watchers_sending_one_code_at_once_one_wins(bot, people, platform):
    a, b, c = people[HANAKO], people[TARO], people[JIRO]
    code = code_of(bot, a)
    events = [platform.make_text_event(b, code), platform.make_text_event(c, code)]
    assert platform.post_events(events) == 200
    bot.timer.settle()
    answers = sorted(bot.last_reply(b) + bot.last_reply(c))
    assert answers == ["そのコードは見つかりませんでした。",
                       "花子さんの見守りを始めました。飲み忘れたときにお知らせします。"]
    assert len(bot.system.watches.watchers(a)) == 1


def test_at_most_three_watchers(bot, people):
    a = people[HANAKO]
    for name in (TARO, JIRO, SABURO):
        watch(bot, a, people[name])
    code = code_of(bot, a)
    bot.say(people[SHIRO], code)
    assert bot.last_reply(people[SHIRO]) == ("見守りは3人までです。",)


def test_a_missed_round_alerts_every_watcher_and_a_late_answer_tells_them(bot, people):
    a, b, c = people[HANAKO], people[TARO], people[JIRO]
    watch(bot, a, b)
    watch(bot, a, c)
    bot.say(a, "6時10分")
    bot.advance(hours=1, minutes=59)                 # 7:59: the last re-ask came at 7:50
    missed = "花子さんが6時10分の薬をまだ飲んでいないようです。"
    assert missed not in bot.pushed_texts(b)
    bot.advance(minutes=1)                           # 8:00: one interval after the last ask
    assert bot.pushed_texts(b)[-1] == missed and bot.pushed_texts(c)[-1] == missed
    late_watcher = people[SABURO]
    watch(bot, a, late_watcher)                      # was not told: hears nothing of it
    bot.advance(hours=1)
    bot.say(a, "飲んだ")
    assert bot.last_reply(a) == (texts.WELL_DONE,)
    bot.advance(seconds=1)
    taken = "花子さんが6時10分の薬を飲みました。"
    assert bot.pushed_texts(b)[-1] == taken and bot.pushed_texts(c)[-1] == taken
    assert taken not in bot.pushed_texts(late_watcher)
    assert bot.pushed_texts(b).count(missed) == 1 and bot.pushed_texts(b).count(taken) == 1


def test_a_round_answered_in_time_alerts_nobody(bot, people):
    a, b = people[HANAKO], people[TARO]
    watch(bot, a, b)
    bot.say(a, "6時10分")
    bot.advance(minutes=30)
    bot.say(a, "飲んだ")
    bot.advance(hours=3)
    assert bot.pushed_texts(b) == []


def test_whom_a_watcher_watches_comes_in_the_order_the_watches_began(bot, people,
                                                                     redis_client):
    watcher = people[SHIRO]
    # Ids in the reverse of the order the watches begin, so that an order by id shows.
    later_first = sorted((people[name] for name in (HANAKO, TARO, JIRO)), reverse=True)
    for watched in later_first:
        watch(bot, watched, watcher)
        bot.advance(seconds=1)
    assert bot.system.watches.watching(watcher) == later_first
    # Links stored before start times were kept have none: they come first, by id.
    old_links = sorted([new_user_id(), new_user_id()])
    for watched in reversed(old_links):
        redis_client.sadd(bot.store.keys.watchers(watched), watcher)
        redis_client.sadd(bot.store.keys.watching(watcher), watched)
    assert bot.system.watches.watching(watcher) == old_links + later_first


def test_an_ended_watch_leaves_no_start_time(bot, people, redis_client, platform):
    a, b, c = people[HANAKO], people[TARO], people[JIRO]
    since = bot.store.keys.watching_since(b)
    watch(bot, a, b)
    watch(bot, c, b)
    assert sorted(redis_client.hkeys(since)) == sorted([a.encode(), c.encode()])
    bot.say(a, "見守り解除")                          # from the side of the person watched
    assert redis_client.hkeys(since) == [c.encode()]
    watch(bot, a, b)
    bot.say(b, "見守り解除")                          # from the watcher's side
    assert not redis_client.exists(since)
    watch(bot, a, b)
    assert platform.unfollow(b) == 200               # blocking deletes the watcher's links
    bot.timer.settle()
    assert not redis_client.exists(since)


def test_ending_the_watch_from_either_side(bot, people):
    a, b, c = people[HANAKO], people[TARO], people[JIRO]
    watch(bot, a, b)
    watch(bot, a, c)
    bot.say(b, "見守り解除")                          # the watcher ends their watching
    assert bot.last_reply(b) == ("見守りを解除しました。",)
    wait_for_push(bot, a, "太郎さんの見守りが終わりました。")
    assert bot.system.watches.watchers(a) == [c] and bot.system.watches.watching(b) == []
    bot.say(a, "見守り解除")                          # the person watched ends all of theirs
    assert bot.last_reply(a) == ("見守りを解除しました。",)
    wait_for_push(bot, c, "花子さんの見守りが終わりました。")
    bot.say(a, "見守り解除")
    assert bot.last_reply(a) == ("見守りは設定されていません。",)
    bot.say(a, "6時10分")
    bot.advance(hours=3)
    assert "花子さんが6時10分の薬をまだ飲んでいないようです。" not in bot.pushed_texts(c)


@pytest.mark.parametrize("who", ["watched", "watcher"])
def test_unfollow_by_either_side_ends_the_watch(bot, people, platform, who):
    a, b = people[HANAKO], people[TARO]
    watch(bot, a, b)
    leaving, staying = (a, b) if who == "watched" else (b, a)
    assert platform.unfollow(leaving) == 200
    bot.timer.settle()
    assert bot.system.watches.watchers(a) == [] and bot.system.watches.watching(b) == []
    name = {a: "花子", b: "太郎"}[leaving]
    wait_for_push(bot, staying, f"{name}さんの見守りが終わりました。")


def killed_while_alerting(make_bot, people, monkeypatch, line_took_it):
    """花子 (watched by 太郎) misses 6:10; the process dies in the middle of telling 太郎,
    after LINE took the alert or before; another process starts on the same Redis."""
    bot = make_bot()
    a, b = people[HANAKO], people[TARO]
    watch(bot, a, b)
    bot.say(a, "6時10分")
    bot.advance(hours=1, minutes=59)
    died = gevent.event.Event()
    real_alert = bot.system.notices.alert

    def die(*args, **kwargs):                   # as SIGKILL would: nothing after this runs
        if line_took_it:
            real_alert(*args, **kwargs)
        died.set()
        raise gevent.GreenletExit

    monkeypatch.setattr(bot.system.notices, "alert", die)
    bot.timer._move_to(bot.timer.now() + 60)    # 8:00: the round is missed, the alert owed
    bot.timer._wake_due()
    assert died.wait(5)
    bot.kill()
    second = make_bot()                         # restarts from Redis
    let_the_dead_senders_lease_run_out(second)
    second.advance(seconds=Settings.due_lease_seconds + 1)  # the dead one held the user
    return second, a, b


def test_an_alert_survives_a_kill_between_the_round_ending_and_the_push(make_bot, people,
                                                                      monkeypatch):
    second, _, watcher = killed_while_alerting(make_bot, people, monkeypatch,
                                               line_took_it=False)
    assert second.pushed_texts(watcher).count("花子さんが6時10分の薬をまだ飲んでいないようです。") == 1


def test_an_alert_line_took_before_a_kill_is_not_shown_twice(make_bot, people, monkeypatch):
    second, watched, watcher = killed_while_alerting(make_bot, people, monkeypatch,
                                                     line_took_it=True)
    assert second.pushed_texts(watcher).count("花子さんが6時10分の薬をまだ飲んでいないようです。") == 1
    statuses = [r.status for r in second.platform.requests if r.path.endswith("/push")]
    assert 409 in statuses                      # the resend, recognised by its retry key
    assert second.store.users.load(watched).alerts == ()


def debug_actors(bot):
    base = bot.url.rsplit("/", 1)[0]
    answer = urllib3.request("GET", base + "/debug/actors",
                             headers={"Authorization": "Bearer debug-token"})
    assert answer.status == 200
    return answer.json()


def test_a_watch_alert_counts_for_the_month(bot, people):
    a, b = people[HANAKO], people[TARO]
    watch(bot, a, b)
    bot.say(a, "6時10分")
    bot.advance(hours=2)
    actors = debug_actors(bot)
    assert actors["watch_alerts_this_month"] == 1
    [row] = [user for user in actors["users"] if user["user"] == a]
    assert row["watchers"] == 1
    # The alert is a push: it counts against the quota, for the watcher it went to.
    assert bot.system.usage.pushes("2026-11", [b]) == {b: 1}


def test_two_processes_tell_a_watcher_once_without_a_resend(make_bot, people):
    old = make_bot()
    a, b = people[HANAKO], people[TARO]
    watch(old, a, b)
    old.say(a, "6時10分")
    new = make_bot()                                 # a deploy: both hold the user
    advance_together([old.timer, new.timer], 3 * 3600)
    missed = "花子さんが6時10分の薬をまだ飲んでいないようです。"
    assert old.pushed_texts(b).count(missed) == 1
    assert 409 not in [r.status for r in old.platform.requests if r.path.endswith("/push")]


def test_an_alert_another_process_is_telling_is_left_to_it_and_looked_at_once_a_second(
        bot, people, monkeypatch):
    a, b = people[HANAKO], people[TARO]
    watch(bot, a, b)
    bot.say(a, "6時10分")
    # Another process holds the alert to b (it is telling b now), from the round's end on.
    round_at = int(bot.timer.now() + 600)
    held = bot.store.keys.alert_claim(a, f"missed:{round_at}", b)
    bot.store.redis.set(held, "another-process", px=60_000)
    saves = count_calls(monkeypatch, bot.store.users, "save")
    looks = count_calls(monkeypatch, bot.store.alert_claims, "claim")
    bot.advance(hours=2, seconds=5)             # 8:00:05: missed at 8:00, held since
    missed = "花子さんが6時10分の薬をまだ飲んでいないようです。"
    assert missed not in bot.pushed_texts(b)
    assert len(looks) == 5 and saves == []      # once a second, nothing written meanwhile
    bot.store.redis.delete(held)                # the other process is gone, its lease too
    bot.advance(seconds=2)
    assert bot.pushed_texts(b).count(missed) == 1
    assert bot.store.users.load(a).alerts == ()
