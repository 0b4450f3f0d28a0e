"""The history (記録) through the HTTP surface: rounds end as taken, late,
missed or not asked; 記録 answers one Flex message, a 28-day calendar."""
import json
from datetime import date, datetime, timedelta

import pytest
from linebot.v3.messaging import Message

from chat import texts
from chat.history_card import history_message, watcher_history_messages
from domain.history import Calendar, DayCell, DayTally, Mark, calendar
from domain.rounds import Dose, RoundState
from domain.wallclock import zone
from tests.support import new_user_id, watched_by

TOKYO = zone("Asia/Tokyo")


@pytest.fixture
def sent(platform):
    """Every message the stand-in accepted, as JSON: (kind, user id, message)."""
    messages = []
    platform.observers.append(
        lambda kind, user_id, batch: messages.extend((kind, user_id, m) for m in batch))
    return messages


@pytest.fixture
def replied(platform):
    """Every reply the stand-in accepted: (user id, its list of messages as JSON)."""
    replies = []
    platform.observers.append(
        lambda kind, user_id, batch: replies.append((user_id, batch)) if kind == "reply" else None)
    return replies


def ask_for_the_record(bot, user_id, sent):
    bot.say(user_id, "記録")
    replies = [m for kind, uid, m in sent if kind == "reply" and uid == user_id]
    return replies[-1]


def the_record_reply(bot, user_id, replied):
    """The messages of the reply to 記録."""
    bot.say(user_id, "記録")
    return [batch for uid, batch in replied if uid == user_id][-1]


def as_line_reads_it(message):
    """The message through line-bot-sdk's models (a Flex message LINE would refuse raises):
    the bot sends what the builder made, so the builder is held to them here."""
    return Message.from_dict(message).to_dict()


def marks(flex):
    """The 28 day symbols of the calendar (a message or a bubble), oldest first."""
    bubble = flex.get("contents", flex)
    weeks = bubble["body"]["contents"][1:5]
    return [cell["contents"][1]["text"] for week in weeks for cell in week["contents"]]


def heading(bubble):
    return bubble["header"]["contents"][0]["text"]


def test_four_weeks_of_rounds_as_one_flex_calendar(bot, user_id, sent):
    bot.say(user_id, "6時10分と20時")
    # 11/27: 6:10 taken, 20:00 answered after it was missed -> late: △
    bot.advance(minutes=15)
    bot.say(user_id, "飲んだ")
    bot.advance(hours=16)                         # 22:15: 20:00 was missed at 21:50
    bot.say(user_id, "飲んだ")
    # 11/28: both taken: ○
    bot.advance(hours=8)                          # 06:15
    bot.say(user_id, "飲んだ")
    bot.advance(hours=14)                         # 20:15
    bot.say(user_id, "飲んだ")
    # 11/29: 6:10 never answered: ×
    bot.advance(hours=24)                         # 20:15 on 11/29
    bot.say(user_id, "飲んだ")
    # 11/30: the bot is down from 6:00 to 7:00, past the grace: 6:10 not asked; 20:00 taken
    bot.advance(hours=9, minutes=45)              # 06:00 on 11/30
    bot.stop()
    bot.frozen.tick(3600)
    bot.start()
    bot.advance(hours=13, minutes=15)             # 20:15
    bot.say(user_id, "飲んだ")
    # 12/1: 6:10 asked, still open
    bot.advance(hours=10)                         # 06:15 on 12/1
    flex = ask_for_the_record(bot, user_id, sent)

    assert flex["type"] == "flex"
    assert flex["altText"] == "記録(直近28日): ○2日 △1日 ×1日"
    assert marks(flex)[-5:] == ["△", "○", "×", "○", "…"]
    assert marks(flex)[:-5] == ["·"] * 23
    assert as_line_reads_it(flex) == flex         # valid for LINE's Flex models as sent

    bot.say(user_id, "飲んだ")                    # today's 6:10 taken; 20:00 still to come
    assert ask_for_the_record(bot, user_id, sent)["altText"] == "記録(直近28日): ○2日 △1日 ×1日"
    bot.advance(hours=14)                         # 20:15
    bot.say(user_id, "飲んだ")                    # today's last round ended: it counts
    flex = ask_for_the_record(bot, user_id, sent)
    assert flex["altText"] == "記録(直近28日): ○3日 △1日 ×1日"
    assert marks(flex)[-1] == "○"


def test_the_record_is_a_command_not_an_answer(bot, user_id, sent):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)
    flex = ask_for_the_record(bot, user_id, sent)
    assert marks(flex)[-1] == "…" and flex["altText"] == "記録(直近28日): ○0日 △0日 ×0日"
    bot.say(user_id, "きろく")
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]


def counts(flex):
    """The three counts under the calendar, as shown."""
    row = flex["contents"]["body"]["contents"][-2]
    return [text["text"] for text in row["contents"]]


def test_today_shows_its_mark_only_once_every_round_due_today_has_ended(bot, user_id, sent):
    bot.say(user_id, "6時10分と20時")
    bot.advance(hours=2, minutes=30)              # 8:30: 6:10 went unanswered at 8:00
    flex = ask_for_the_record(bot, user_id, sent)
    assert marks(flex)[-1] == "…" and counts(flex) == ["○ 0日", "△ 0日", "× 0日"]
    bot.say(user_id, "飲んだ")                    # late: 6:10 is △, 20:00 still to come
    flex = ask_for_the_record(bot, user_id, sent)
    assert marks(flex)[-1] == "…" and counts(flex) == ["○ 0日", "△ 0日", "× 0日"]
    assert flex["altText"] == "記録(直近28日): ○0日 △0日 ×0日"
    bot.advance(hours=11, minutes=45)             # 20:15: 20:00 asked, open
    assert marks(ask_for_the_record(bot, user_id, sent))[-1] == "…"
    bot.say(user_id, "飲んだ")                    # today's last round ended
    flex = ask_for_the_record(bot, user_id, sent)
    assert marks(flex)[-1] == "△" and counts(flex) == ["○ 0日", "△ 1日", "× 0日"]
    assert flex["altText"] == "記録(直近28日): ○0日 △1日 ×0日"


def test_a_user_without_a_history_gets_an_empty_calendar(bot, user_id, sent):
    flex = ask_for_the_record(bot, user_id, sent)
    assert flex["altText"] == texts.history_summary(0, 0, 0)
    assert marks(flex) == ["·"] * 27 + ["·"]


# -- a watcher's view: their own calendar and each person they watch ---------------------------
def watch(bot, watched, watcher, name):
    """`watcher` starts watching `watched` (shown as `name`); a second passes, so that watches
    begun one after the other have different start times."""
    watched_by(bot, watcher, {watched: name})
    assert bot.last_reply(watcher)[0].startswith(f"{name}さんの見守りを始めました")
    bot.advance(seconds=1)


def test_a_watchers_record_is_one_carousel_their_own_first_then_each_person_they_watch(
        bot, replied):
    watcher, hanako, taro = new_user_id(), new_user_id(), new_user_id()
    watch(bot, taro, watcher, "太郎")              # the first watch to begin
    watch(bot, hanako, watcher, "花子")
    for user_id in (watcher, hanako, taro):
        bot.say(user_id, "6時10分")
    bot.advance(minutes=15)                        # 6:15
    bot.say(watcher, "飲んだ")
    bot.say(hanako, "飲んだ")
    bot.advance(hours=2, minutes=15)               # 8:30: 太郎's 6:10 went unanswered at 8:00

    [message] = the_record_reply(bot, watcher, replied)
    assert message["type"] == "flex" and message["contents"]["type"] == "carousel"
    bubbles = message["contents"]["contents"]
    assert [heading(bubble) for bubble in bubbles] == ["記録", "太郎さんの記録", "花子さんの記録"]
    assert [marks(bubble)[-1] for bubble in bubbles] == ["○", "×", "○"]
    assert message["altText"] == ("記録(直近28日): ○1日 △0日 ×0日\n"
                                  "太郎さんの記録(直近28日): ○0日 △0日 ×1日\n"
                                  "花子さんの記録(直近28日): ○1日 △0日 ×0日")
    assert as_line_reads_it(message) == message    # a carousel LINE's Flex models take

    # The person watched sees only their own record.
    [own] = the_record_reply(bot, hanako, replied)
    assert own["contents"]["type"] == "bubble" and heading(own["contents"]) == "記録"
    assert own["altText"] == "記録(直近28日): ○1日 △0日 ×0日"

    # Ending the watch ends the view.
    bot.say(watcher, "見守り解除")
    [alone] = the_record_reply(bot, watcher, replied)
    assert alone["contents"]["type"] == "bubble" and heading(alone["contents"]) == "記録"
    assert alone["altText"] == "記録(直近28日): ○1日 △0日 ×0日"


def test_a_watchers_own_calendar_is_in_the_carousel_once_they_have_a_time_or_a_marked_day(
        bot, replied):
    watcher, hanako = new_user_id(), new_user_id()
    watch(bot, hanako, watcher, "花子")
    bot.advance(minutes=4)                         # 6:05
    [message] = the_record_reply(bot, watcher, replied)   # no time, nothing recorded
    assert [heading(b) for b in message["contents"]["contents"]] == ["花子さんの記録"]
    assert message["altText"] == "花子さんの記録(直近28日): ○0日 △0日 ×0日"

    bot.say(watcher, "6時10分")                    # a time: their own calendar comes first
    [message] = the_record_reply(bot, watcher, replied)
    assert [heading(b) for b in message["contents"]["contents"]] == ["記録", "花子さんの記録"]
    assert marks(message["contents"]["contents"][0])[-1] == "…"   # 6:10 still to come

    bot.advance(minutes=10)                        # 6:15
    bot.say(watcher, "飲んだ")
    bot.say(watcher, "ばいばい")                    # no time, but a day recorded
    [message] = the_record_reply(bot, watcher, replied)
    assert [heading(b) for b in message["contents"]["contents"]] == ["記録", "花子さんの記録"]
    assert message["altText"].split("\n") == ["記録(直近28日): ○1日 △0日 ×0日",
                                               "花子さんの記録(直近28日): ○0日 △0日 ×0日"]


def test_calendars_past_what_one_carousel_holds_go_on_in_the_same_reply(bot, replied):
    watcher = new_user_id()
    bot.say(watcher, "6時10分")
    names = ["花子", "太郎", "次郎", "三郎"]
    for name in names:
        watch(bot, new_user_id(), watcher, name)
    first, second = the_record_reply(bot, watcher, replied)   # 5 calendars: 4, then 1
    assert [heading(b) for b in first["contents"]["contents"]] == [
        "記録", "花子さんの記録", "太郎さんの記録", "次郎さんの記録"]
    assert [heading(b) for b in second["contents"]["contents"]] == ["三郎さんの記録"]
    assert second["altText"] == "三郎さんの記録(直近28日): ○0日 △0日 ×0日"


def test_a_watched_persons_calendar_is_theirs_in_their_own_zone(bot, replied):
    watcher, hanako = new_user_id(), new_user_id()
    watch(bot, hanako, watcher, "花子")
    bot.say(hanako, "タイムゾーン America/New_York")
    # 06:00 in Tokyo is 16:00 the day before in New York: 花子's today is 11/26.
    [message] = the_record_reply(bot, watcher, replied)
    [bubble] = message["contents"]["contents"]
    assert bubble["header"]["contents"][1]["text"] == "10/30〜11/26 (直近28日)"


# -- the calendar itself, pure -------------------------------------------------------------------
TODAY = date(2026, 12, 1)


def test_day_marks_from_the_day_tallies():
    tallies = {TODAY - timedelta(days=4): DayTally(taken=2),
               TODAY - timedelta(days=3): DayTally(taken=1, late=1),
               TODAY - timedelta(days=2): DayTally(taken=1, missed=1, late=1),
               TODAY - timedelta(days=1): DayTally(not_asked=1),
               TODAY - timedelta(days=30): DayTally(missed=2)}   # outside the 28 days
    result = calendar(TODAY, tallies, (), now=0, tz=TOKYO)
    assert [cell.mark for cell in result.days[-5:]] == [
        Mark.TAKEN, Mark.LATE, Mark.MISSED, Mark.BLANK, Mark.BLANK]
    assert (result.taken, result.late, result.missed) == (1, 1, 1)
    assert result.days[0].day == TODAY - timedelta(days=27) and result.days[-1].today


def test_today_is_marked_and_counted_only_once_its_last_round_has_ended():
    now = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO).timestamp()
    tallies = {TODAY: DayTally(taken=1)}
    later_today = Dose(20, 0, due=now + 3600)
    done = Dose(8, 0, due=now + 86400, at=now - 7200, day="2026-12-01",
                 state=RoundState.TAKEN, asks=1)
    pending = calendar(TODAY, tallies, (done, later_today), now=now, tz=TOKYO)
    assert pending.days[-1].mark is Mark.IN_PROGRESS and pending.taken == 0
    finished = calendar(TODAY, tallies, (done,), now=now, tz=TOKYO)
    assert finished.days[-1].mark is Mark.TAKEN and finished.taken == 1


def test_a_day_whose_round_is_still_open_is_in_progress_and_not_counted():
    now = datetime(2026, 12, 1, 0, 5, tzinfo=TOKYO).timestamp()
    tallies = {TODAY - timedelta(days=1): DayTally(missed=1)}
    # Yesterday's 23:55 round, still asked after midnight; its 8:00 round was missed.
    open_round = Dose(23, 55, due=now + 300, at=now - 600, day="2026-11-30",
                      state=RoundState.ASKING, asks=2)
    result = calendar(TODAY, tallies, (Dose(8, 0, due=now + 8 * 3600), open_round), now=now,
                      tz=TOKYO)
    assert [cell.mark for cell in result.days[-2:]] == [Mark.IN_PROGRESS, Mark.IN_PROGRESS]
    assert result.missed == 0


def test_the_card_stays_within_lines_flex_limits():
    cells = tuple(DayCell(TODAY - timedelta(days=27 - i), Mark.MISSED, i == 27)
                  for i in range(28))
    message = history_message(Calendar(cells, 0, 0, 28))
    assert len(json.dumps(message["contents"]).encode()) < 30_000
    assert len(message["altText"]) <= 400
    assert as_line_reads_it(message) == message


def test_carousels_stay_within_lines_limits_and_keep_everyone_in_order():
    cells = tuple(DayCell(TODAY - timedelta(days=27 - i), Mark.MISSED, i == 27)
                  for i in range(28))
    full = Calendar(cells, 0, 0, 28)
    names = [f"とても長い表示名の家族メンバー{n:02d}番" for n in range(8)]   # 20 characters
    messages = watcher_history_messages(full, [(name, full) for name in names])
    bubbles = [b for message in messages for b in message["contents"]["contents"]]
    assert [heading(b) for b in bubbles] == ["記録"] + [f"{name}さんの記録" for name in names]
    lines = [line for message in messages for line in message["altText"].split("\n")]
    assert lines == ["記録(直近28日): ○0日 △0日 ×28日"] + [
        f"{name}さんの記録(直近28日): ○0日 △0日 ×28日" for name in names]
    for message in messages:
        carousel = message["contents"]
        assert len(carousel["contents"]) <= 12
        assert len(json.dumps(carousel).encode()) <= 50_000    # LINE's limit for a carousel
        assert len(message["altText"]) <= 1500
        assert message["altText"].count("\n") == len(carousel["contents"]) - 1
        assert as_line_reads_it(message) == message
    assert len(messages) == 3                       # 9 calendars, 4 to a carousel
