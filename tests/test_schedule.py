"""Next due time: wall clock in the user's zone, never "+24 h"."""
from datetime import datetime

import pytest
from freezegun import freeze_time

from domain.days import EVERY_DAY, next_ask
from domain.wallclock import local_day, zone
from actors.timer import Timer

TOKYO = zone("Asia/Tokyo")
NEW_YORK = zone("America/New_York")


def next_every_day(hour, minute, tz, after):
    return next_ask(hour, minute, EVERY_DAY, tz, after)


def at(tz, *parts):
    return datetime(*parts, tzinfo=tz).timestamp()


@pytest.mark.parametrize("now, hour, minute, expected", [
    # before the time today -> today
    ((2026, 11, 27, 6, 0), 7, 30, (2026, 11, 27, 7, 30)),
    # exactly at the time -> tomorrow (strictly after now)
    ((2026, 11, 27, 7, 30), 7, 30, (2026, 11, 28, 7, 30)),
    # after the time today -> tomorrow
    ((2026, 11, 27, 7, 31), 7, 30, (2026, 11, 28, 7, 30)),
    # midnight
    ((2026, 11, 27, 23, 59), 0, 0, (2026, 11, 28, 0, 0)),
    ((2026, 11, 28, 0, 0), 0, 0, (2026, 11, 29, 0, 0)),
    # month end, year end, leap day
    ((2026, 11, 30, 22, 0), 7, 0, (2026, 12, 1, 7, 0)),
    ((2026, 12, 31, 23, 30), 7, 0, (2027, 1, 1, 7, 0)),
    ((2028, 2, 28, 8, 0), 7, 0, (2028, 2, 29, 7, 0)),
])
def test_next_occurrence_in_tokyo(now, hour, minute, expected):
    with freeze_time(datetime(*now, tzinfo=TOKYO)):
        assert next_every_day(hour, minute, TOKYO, Timer().now()) == at(TOKYO, *expected)


def test_it_is_wall_clock_across_a_dst_change():
    # New York leaves DST on 2026-11-01: that day has 25 hours, and 07:30 stays 07:30.
    before = at(NEW_YORK, 2026, 10, 31, 8, 0)
    due = next_every_day(7, 30, NEW_YORK, before)
    assert datetime.fromtimestamp(due, NEW_YORK).strftime("%Y-%m-%d %H:%M") == "2026-11-01 07:30"
    assert due - at(NEW_YORK, 2026, 10, 31, 7, 30) == 25 * 3600


def test_a_skipped_wall_time_still_gets_a_real_instant():
    # 02:30 does not exist in New York on 2026-03-08.
    due = next_every_day(2, 30, NEW_YORK, at(NEW_YORK, 2026, 3, 8, 0, 0))
    assert at(NEW_YORK, 2026, 3, 8, 0, 0) < due < at(NEW_YORK, 2026, 3, 8, 4, 0)


def test_local_day_is_the_users_date_not_utc():
    # 08:00 in Tokyo is still the previous day in UTC.
    assert local_day(at(TOKYO, 2026, 11, 27, 8, 0), TOKYO) == "2026-11-27"


LONDON = zone("Europe/London")


def local(due, tz):
    return datetime.fromtimestamp(due, tz).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize("tz, day, hour, minute, expected", [
    # spring: the wall time does not exist; it is asked at the first instant after the gap
    (NEW_YORK, (2026, 3, 8), 2, 30, "2026-03-08 03:00 EDT"),
    (NEW_YORK, (2026, 3, 8), 2, 0, "2026-03-08 03:00 EDT"),
    (NEW_YORK, (2026, 3, 8), 1, 59, "2026-03-08 01:59 EST"),
    (LONDON, (2026, 3, 29), 1, 30, "2026-03-29 02:00 BST"),
    # autumn: the wall time happens twice; the first one
    (NEW_YORK, (2026, 11, 1), 1, 30, "2026-11-01 01:30 EDT"),
    (LONDON, (2026, 10, 25), 1, 15, "2026-10-25 01:15 BST"),
])
def test_daylight_saving_days(tz, day, hour, minute, expected):
    due = next_every_day(hour, minute, tz, at(tz, *day, 0, 0))
    assert local(due, tz) == expected


def test_a_repeated_hour_is_asked_once():
    first = next_every_day(1, 30, NEW_YORK, at(NEW_YORK, 2026, 11, 1, 0, 0))
    assert local(next_every_day(1, 30, NEW_YORK, first), NEW_YORK) == "2026-11-02 01:30 EST"
