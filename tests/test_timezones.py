"""The user's own time zone (docs/design.md, The user's time zone) through the HTTP surface."""
from datetime import datetime

from chat import texts
from domain.wallclock import zone
from simulator.line_api import MULTICAST_PATH, PUSH_PATH

TOKYO, LONDON, NEW_YORK = zone("Asia/Tokyo"), zone("Europe/London"), zone("America/New_York")


def local(bot, user_id, tz):
    """The local wall time of each ask the user saw."""
    return [datetime.fromtimestamp(p.at, tz).strftime("%m-%d %H:%M %Z") for p in bot.pushes(user_id)]


def test_a_zone_by_name_and_the_times_are_asked_there(bot, user_id):
    bot.say(user_id, "タイムゾーン Europe/London")
    assert bot.last_reply(user_id) == (
        "タイムゾーンをEurope/Londonにしました。時間はこの地域の時刻で聞きます。",)
    bot.say(user_id, "7時")
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("7時0分に設定されています\nタイムゾーン: Europe/London",)
    bot.advance(hours=10, minutes=1)                       # 16:01 in Tokyo, 07:01 in London
    bot.say(user_id, "飲んだ")
    assert local(bot, user_id, LONDON) == ["11-27 07:00 GMT"]


def test_an_unknown_zone_gets_told_how(bot, user_id):
    bot.say(user_id, "タイムゾーン Mars/Olympus")
    assert bot.last_reply(user_id) == (texts.ZONE_UNKNOWN,)
    bot.say(user_id, "タイムゾーン")
    assert bot.last_reply(user_id) == (
        "タイムゾーンが分かりませんでした。位置情報を送るか、Asia/Tokyo のように送ってください。",)


def test_a_location_sets_the_zone_of_that_place(bot, user_id, platform):
    assert platform.send_location(user_id, "London", "London, UK", 51.5072, -0.1276) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == (texts.zone_set("Europe/London"),)
    assert platform.send_location(user_id, "Honolulu", "HI", 21.3099, -157.8581) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == (texts.zone_set("Pacific/Honolulu"),)


def test_the_bots_own_zone_is_not_shown(bot, user_id):
    bot.say(user_id, "タイムゾーン Asia/Tokyo")
    bot.say(user_id, "8時")
    bot.say(user_id, "設定教えて")
    assert bot.last_reply(user_id) == ("8時0分に設定されています",)


def test_a_zone_change_mid_round_keeps_the_round_and_moves_the_next_day(bot, user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=25)                                # asked 6:10, 6:20 in Tokyo
    bot.say(user_id, "タイムゾーン Europe/London")
    bot.advance(minutes=10)                                # the round goes on: 6:30
    assert local(bot, user_id, TOKYO) == ["11-27 06:10 JST", "11-27 06:20 JST",
                                          "11-27 06:30 JST"]
    bot.say(user_id, "飲んだ")
    bot.advance(hours=24)
    assert local(bot, user_id, LONDON)[3] == "11-27 06:10 GMT"   # wall clock in London


def test_changing_zone_never_asks_the_same_days_round_twice(bot, user_id):
    bot.say(user_id, "20時")
    bot.advance(hours=14, minutes=5)                       # 20:05 in Tokyo: asked at 20:00
    bot.say(user_id, "飲んだ")
    bot.say(user_id, "タイムゾーン Europe/London")          # it is 11:05 on the 27th there
    bot.advance(hours=24)
    # 20:00 in London on the 27th was already asked (20:00 Tokyo is 11:00 London that day).
    assert local(bot, user_id, LONDON) == ["11-27 11:00 GMT"]
    bot.advance(hours=10)
    assert local(bot, user_id, LONDON)[1] == "11-28 20:00 GMT"


def test_daylight_saving_a_skipped_time_is_asked_at_the_end_of_the_gap(bot, user_id):
    bot.frozen.move_to("2026-03-07 17:00:00")               # noon in New York, before the gap
    bot.say(user_id, "タイムゾーン America/New_York")
    bot.say(user_id, "2時30分")
    bot.advance(hours=15)
    assert local(bot, user_id, NEW_YORK)[:2] == ["03-08 03:00 EDT", "03-08 03:10 EDT"]


def test_daylight_saving_a_repeated_time_is_asked_once(bot, user_id):
    bot.frozen.move_to("2026-11-01 03:00:00")               # 23:00 in New York on 10-31
    bot.say(user_id, "タイムゾーン America/New_York")
    bot.say(user_id, "1時30分")
    bot.advance(hours=2, minutes=31)                       # 1:31 EDT: the first 1:30
    bot.say(user_id, "飲んだ")
    bot.advance(hours=4)                                   # past the second 1:30 (EST)
    assert local(bot, user_id, NEW_YORK) == ["11-01 01:30 EDT"]


def test_users_of_different_zones_due_at_the_same_instant_share_one_multicast(bot):
    tokyo, london = "U" + "1" * 32, "U" + "2" * 32
    bot.say(tokyo, "8時")                                   # 8:00 Tokyo is 23:00 London
    bot.say(london, "タイムゾーン Europe/London")
    bot.say(london, "23時")
    bot.advance(hours=2)
    sends = [r.path for r in bot.platform.requests if r.path in (PUSH_PATH, MULTICAST_PATH)]
    assert sends == [MULTICAST_PATH]
    assert bot.pushed_texts(tokyo) == bot.pushed_texts(london) == ["飲んだ?"]
