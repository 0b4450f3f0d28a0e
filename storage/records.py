"""A user's record as stored (keys.user): JSON whose first member is "v", the record's
compare-and-set version, the number the save and claim scripts compare
(scripts/record_version.lua reads it from that fixed place); schema SCHEMA:

    {"v": 7, "s": 2, "tz": null, "times": [[hour, minute, due, at, day, state, asks,
     answered_at, watchers told, name, days], ...], "alerts": [[kind, hour, minute,
     round_at, [to], due], ...]}

A time's trailing fields are left out when empty (no watcher told, no name, every day), so a
plain time costs what it did before names and days. `days` is a bit mask of days of the week
(bit 0 Monday) or, every other day, the ISO date of a day it is asked on. The version of the
bot before this one reads these records as they are (it finds "v" anywhere and reads the
first eight fields of a time): the two can run side by side during a deploy.

Records written by earlier versions of the bot are read through storage/upgrade.py, the one
place that knows their shapes; every save writes the current one."""
import orjson

from domain.days import EVERY_DAY, Days
from domain.rounds import Dose, RoundState
from domain.user import UserRecord
from domain.watch import Alert, AlertKind
from storage import upgrade

SCHEMA = upgrade.SCHEMA
_STATES = {state.value: state for state in RoundState}
_ALWAYS = 8  # fields every time is written with (the version before names and days reads 8)
_KINDS = {kind.value: kind for kind in AlertKind}


def encode(record: UserRecord, version: int) -> bytes:
    """The stored value of `record` as version `version`."""
    data = {"v": version, "s": SCHEMA, "tz": record.tz,
            "times": [_time(dose) for dose in record.doses]}
    if record.alerts:
        data["alerts"] = [list(alert) for alert in record.alerts]
    return orjson.dumps(data)


def decode(user_id: str, raw: bytes, legacy: upgrade.Legacy = upgrade.DEFAULTS) -> UserRecord:
    data = orjson.loads(raw)
    version = data.get("v", 0)
    if data.get("s") != SCHEMA:
        data = upgrade.to_current(data, legacy)
    get = data.get  # plain lookups: a burst decodes thousands of these
    doses = tuple(_dose(*time) for time in get("times") or ())
    alerts = get("alerts")
    if alerts:
        alerts = tuple(Alert(_KINDS[kind], h, m, at, tuple(to), due)
                       for kind, h, m, at, to, due in alerts)
    return UserRecord(user_id, doses, get("tz"), version, alerts or ())


def _time(dose: Dose) -> list:
    hour, minute, due, at, day, state, asks, answered_at, alerted, name, days = dose
    time = [hour, minute, due, at, day, None if state is None else state.value, asks,
            answered_at]
    if alerted or name is not None or days is not EVERY_DAY:  # (a burst encodes plain ones)
        time += [list(alerted), name, _days(days)]
        while len(time) > _ALWAYS and (time[-1] is None or time[-1] == []):
            time.pop()
    return time


def _dose(hour, minute, due, at, day, state, asks, answered_at, told=(), name=None,
          days=None) -> Dose:
    return Dose(hour, minute, due, at, day, _STATES.get(state), asks, answered_at,
                tuple(told), name, _DAYS_FROM[type(days)](days))


def _days(days: Days):
    if days.every_other_from is not None:
        return days.every_other_from
    return days.weekdays or None


_DAYS_FROM = {type(None): lambda _: EVERY_DAY, int: lambda mask: Days(weekdays=mask),
              str: lambda first: Days(every_other_from=first)}
