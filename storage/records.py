"""A user's record as stored (keys.user): `<version>\\n<json>`.

The first line is the record's compare-and-set version, the number the save and claim
scripts compare (scripts/record_version.lua); the JSON is schema SCHEMA:

    {"s": 2, "tz": null, "times": [[hour, minute, due, at, day, state, asks, answered_at,
     (watchers told)], ...], "alerts": [[kind, hour, minute, round_at, [to], due], ...]}

Records written by earlier versions of the bot are read through storage/upgrade.py, the one
place that knows their shapes; every save writes the current one."""
import orjson

from domain.rounds import Dose, RoundState
from domain.user import UserRecord
from domain.watch import Alert, AlertKind
from storage import upgrade

SCHEMA = upgrade.SCHEMA
_STATES = {state.value: state for state in RoundState}
_KINDS = {kind.value: kind for kind in AlertKind}


def encode(record: UserRecord, version: int) -> bytes:
    """The stored value of `record` as version `version`."""
    data = {"s": SCHEMA, "tz": record.tz,
            "times": [[d.hour, d.minute, d.due, d.at, d.day, _state(d.state), d.asks,
                       d.answered_at] + ([d.alerted] if d.alerted else [])
                      for d in record.doses]}
    if record.alerts:
        data["alerts"] = [list(alert) for alert in record.alerts]
    return b"%d\n" % version + orjson.dumps(data)


def decode(user_id: str, raw: bytes, legacy: upgrade.Legacy = upgrade.DEFAULTS) -> UserRecord:
    header, newline, body = raw.partition(b"\n")
    if newline and header.isdigit():
        version, data = int(header), orjson.loads(body)
    else:  # written before the version had a line of its own: version 0, as the scripts read it
        version, data = 0, orjson.loads(raw)
    if data.get("s") != SCHEMA:
        data = upgrade.to_current(data, legacy)
    get = data.get  # plain lookups: a burst decodes thousands of these
    doses = tuple(Dose(h, m, due, at, day, _STATES.get(state), asks, ans,
                       tuple(told[0]) if told else ())
                  for h, m, due, at, day, state, asks, ans, *told in get("times") or ())
    alerts = get("alerts")
    if alerts:
        alerts = tuple(Alert(_KINDS[kind], h, m, at, tuple(to), due)
                       for kind, h, m, at, to, due in alerts)
    return UserRecord(user_id, doses, get("tz"), version, alerts or ())


def _state(state):
    return None if state is None else state.value
