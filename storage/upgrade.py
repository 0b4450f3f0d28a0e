"""Records written by earlier versions of the bot, read as the current schema. This is the one
place that knows their shapes: records.decode sends any record without the current schema
here, and the next save writes it in the current one.

The shapes, oldest first:
- one time per user: {"h", "m", "tz", "day", "round", "asks", "ans", "due", "v"}, later with
  "at" and "told"; a round given up was "asking" with asks past the last re-ask, and a first
  ask the bot could not send in time was "missed" with asks 0;
- several times: {"tz", "times": [[h, m, due, at, day, state, asks, ans, (told)], ...],
  "alerts", "v"}, rounds without "at" before rounds had ids.
Their "v" is the version, as for the current schema (records.py).
What they lack is worked out from the bot's settings (`Legacy`): the zone of a user who never
chose one, and how many re-asks a round had."""
from typing import NamedTuple

from domain.wallclock import wall_time_on, zone

SCHEMA = 2


class Legacy(NamedTuple):
    """The settings that old records were written under."""
    timezone: str = "Asia/Tokyo"
    max_reasks: int = 10


DEFAULTS = Legacy()


def to_current(data: dict, legacy: Legacy) -> dict:
    """`data` (any earlier shape) as schema SCHEMA."""
    tz = zone(data.get("tz") or legacy.timezone)
    times = data.get("times")
    if times is None:
        times = [] if data.get("h") is None else [_one_time(data)]
    return {"v": data.get("v", 0), "s": SCHEMA, "tz": data.get("tz"),
            "alerts": data.get("alerts"),
            "times": [_with_explicit_state(list(time), tz, legacy) for time in times]}


def _one_time(data: dict) -> list:
    state, asks = data.get("round"), data.get("asks", 0)
    if state == "missed" and asks == 0:
        state = "not_asked"  # that version said "missed" for a first ask never sent
    told = data.get("told")
    return [data["h"], data["m"], data.get("due"), data.get("at"), data.get("day"), state,
            asks, data.get("ans")] + ([told] if told else [])


def _with_explicit_state(time: list, tz, legacy: Legacy) -> list:
    hour, minute, _, at, day, state, asks = time[:7]
    if at is None and day is not None:  # the round's id: its first ask that day
        time[3] = wall_time_on(day, hour, minute, tz)
    if state == "asking" and asks > legacy.max_reasks:  # given up, still open to an answer
        time[5] = "missed"
    return time

