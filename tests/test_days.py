"""Which days a dose is asked on (domain/days.py): one function, next_ask, across days of the
week, every other day, daylight saving, zone changes and month ends."""
from datetime import datetime

import pytest

from domain.days import EVERY_DAY, Days, DayWords, days_for, next_ask, weekday_mask
from domain.wallclock import zone

TOKYO, NEW_YORK, LONDON = zone("Asia/Tokyo"), zone("America/New_York"), zone("Europe/London")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MWF = Days(weekdays=weekday_mask([MON, WED, FRI]))


def at(tz, *when):
    return datetime(*when, tzinfo=tz).timestamp()


def local(epoch, tz):
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %a %H:%M %Z")


@pytest.mark.parametrize("after, expected", [
    ((2026, 11, 30, 7, 0), "2026-11-30 Mon 08:00 JST"),    # Monday, before 8:00: today
    ((2026, 11, 30, 8, 0), "2026-12-02 Wed 08:00 JST"),    # at 8:00 itself: the next day of it
    ((2026, 12, 4, 9, 0), "2026-12-07 Mon 08:00 JST"),     # Friday after: over the weekend
    ((2026, 12, 31, 9, 0), "2027-01-01 Fri 08:00 JST"),    # year end
    ((2027, 2, 26, 9, 0), "2027-03-01 Mon 08:00 JST"),     # February's end
])
def test_days_of_the_week(after, expected):
    assert local(next_ask(8, 0, MWF, TOKYO, at(TOKYO, *after)), TOKYO) == expected


def test_one_day_a_week_is_seven_days_apart():
    monday = Days(weekdays=weekday_mask([MON]))
    first = next_ask(8, 0, monday, TOKYO, at(TOKYO, 2026, 11, 30, 9, 0))
    assert local(first, TOKYO) == "2026-12-07 Mon 08:00 JST"
    assert next_ask(8, 0, monday, TOKYO, first) - first == 7 * 86400


def test_days_of_the_week_across_daylight_saving_stay_wall_clock():
    sunday = Days(weekdays=weekday_mask([SUN]))
    # New York leaves DST on Sunday 2026-11-01 and enters it on Sunday 2027-03-14.
    autumn = next_ask(1, 30, sunday, NEW_YORK, at(NEW_YORK, 2026, 10, 31, 12, 0))
    assert local(autumn, NEW_YORK) == "2026-11-01 Sun 01:30 EDT"     # the first of the two
    spring = next_ask(2, 30, sunday, NEW_YORK, at(NEW_YORK, 2027, 3, 13, 12, 0))
    assert local(spring, NEW_YORK) == "2027-03-14 Sun 03:00 EDT"     # the gap: just after
    week = next_ask(7, 0, sunday, LONDON, at(LONDON, 2027, 3, 21, 8, 0))
    assert local(week, LONDON) == "2027-03-28 Sun 07:00 BST"          # 167 hours later
    assert week - at(LONDON, 2027, 3, 21, 7, 0) == 167 * 3600


def test_the_days_are_the_users_local_days_in_the_zone_they_are_in_now():
    # Monday 8:00 in New York is Monday night in Tokyo: a user who moves there is asked on
    # their Monday, at 8:00 there.
    monday = Days(weekdays=weekday_mask([MON]))
    after = at(TOKYO, 2026, 11, 30, 12, 0)           # Monday noon in Tokyo = Sunday in NY
    assert local(next_ask(8, 0, monday, TOKYO, after), TOKYO) == "2026-12-07 Mon 08:00 JST"
    assert local(next_ask(8, 0, monday, NEW_YORK, after), NEW_YORK) == \
        "2026-11-30 Mon 08:00 EST"


def test_every_other_day_from_its_first_day():
    tonight = days_for(DayWords(every_other=True), 21, 0, TOKYO, at(TOKYO, 2026, 11, 30, 9, 0))
    assert tonight == Days(every_other_from="2026-11-30")   # 21:00 is still ahead today
    tomorrow = days_for(DayWords(every_other=True), 8, 0, TOKYO, at(TOKYO, 2026, 11, 30, 9, 0))
    assert tomorrow == Days(every_other_from="2026-12-01")  # 8:00 has passed
    asked, when = [], at(TOKYO, 2026, 11, 29, 0, 0)
    for _ in range(4):
        when = next_ask(21, 0, tonight, TOKYO, when)
        asked.append(local(when, TOKYO)[:10])
    assert asked == ["2026-11-30", "2026-12-02", "2026-12-04", "2026-12-06"]


def test_every_other_day_over_a_month_end_and_a_zone_change():
    days = Days(every_other_from="2027-01-30")
    assert local(next_ask(8, 0, days, TOKYO, at(TOKYO, 2027, 1, 30, 9, 0)), TOKYO) == \
        "2027-02-01 Mon 08:00 JST"
    # Counted on local dates: in London the same rhythm falls on the same dates.
    assert local(next_ask(8, 0, days, LONDON, at(LONDON, 2027, 1, 30, 9, 0)), LONDON) == \
        "2027-02-01 Mon 08:00 GMT"


def test_day_words():
    after = at(TOKYO, 2026, 11, 30, 9, 0)
    assert days_for(DayWords(), 8, 0, TOKYO, after) == EVERY_DAY            # 毎日
    every_weekday = DayWords(weekdays=weekday_mask(range(7)))
    assert days_for(every_weekday, 8, 0, TOKYO, after) == EVERY_DAY         # 月火水木金土日
    assert days_for(DayWords(weekdays=MWF.weekdays), 8, 0, TOKYO, after) == MWF
    assert MWF.on(datetime(2026, 12, 2).date()) and not MWF.on(datetime(2026, 12, 3).date())
