"""Next due time: wall clock in the user's zone, never "+24 h"."""
from datetime import datetime

import pytest
from freezegun import freeze_time

from domain.wallclock import local_day, next_occurrence, zone
from actors.timer import Timer

TOKYO = zone("Asia/Tokyo")
NEW_YORK = zone("America/New_York")


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
        assert next_occurrence(hour, minute, TOKYO, Timer().now()) == at(TOKYO, *expected)


def test_it_is_wall_clock_across_a_dst_change():
    # New York leaves DST on 2026-11-01: that day has 25 hours, and 07:30 stays 07:30.
    before = at(NEW_YORK, 2026, 10, 31, 8, 0)
    due = next_occurrence(7, 30, NEW_YORK, before)
    assert datetime.fromtimestamp(due, NEW_YORK).strftime("%Y-%m-%d %H:%M") == "2026-11-01 07:30"
    assert due - at(NEW_YORK, 2026, 10, 31, 7, 30) == 25 * 3600


def test_a_skipped_wall_time_still_gets_a_real_instant():
    # 02:30 does not exist in New York on 2026-03-08.
    due = next_occurrence(2, 30, NEW_YORK, at(NEW_YORK, 2026, 3, 8, 0, 0))
    assert at(NEW_YORK, 2026, 3, 8, 0, 0) < due < at(NEW_YORK, 2026, 3, 8, 4, 0)


def test_local_day_is_the_users_date_not_utc():
    # 08:00 in Tokyo is still the previous day in UTC.
    assert local_day(at(TOKYO, 2026, 11, 27, 8, 0), TOKYO) == "2026-11-27"
