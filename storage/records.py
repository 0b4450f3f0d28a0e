"""A user's record as stored: JSON under `usa:user:<id>` (keys.user).

A user with one time is stored in exactly the shape the one-time version wrote
(`{"h", "m", "tz", "day", "round", "asks", "ans", "due", "at", "v"}`), so that during a
deploy a process of that version still reads them right. Several times go in a list of
arrays, without "h": that version reads such a user as having no time and leaves them alone.
"""
from typing import Optional

import orjson

from domain.rounds import Round, RoundState
from domain.user import UserRecord
from domain.watch import Alert

_STATES = {state.value: state for state in RoundState}


def encode(record: UserRecord, version: Optional[int] = None) -> bytes:
    """The stored JSON; `version` replaces the record's own (the next one, when saving)."""
    data = {"tz": record.tz, "v": record.version if version is None else version}
    if len(record.rounds) == 1:
        r = record.rounds[0]
        data.update(h=r.hour, m=r.minute, day=r.day, round=_state(r.state), asks=r.asks,
                    ans=r.answered_at, due=r.due, at=r.at)
        if r.alerted:
            data["told"] = r.alerted
    elif record.rounds:
        data["times"] = [[r.hour, r.minute, r.due, r.at, r.day, _state(r.state), r.asks,
                          r.answered_at] + ([r.alerted] if r.alerted else [])
                         for r in record.rounds]
    if record.alerts:
        data["alerts"] = [list(alert) for alert in record.alerts]
    return orjson.dumps(data)


def decode(user_id: str, raw: bytes) -> UserRecord:
    data = orjson.loads(raw)
    get = data.get  # plain lookups: a burst decodes thousands of these
    times = get("times")
    if times is not None:
        rounds = tuple(Round(h, m, due, at, day, _STATES.get(state), asks, ans,
                             tuple(told[0]) if told else ())
                       for h, m, due, at, day, state, asks, ans, *told in times)
    elif get("h") is not None:
        asks = get("asks", 0)
        state = _STATES.get(get("round"))
        if state is RoundState.MISSED and asks == 0:
            # The one-time version said "missed" for a first ask it could not send in time.
            state = RoundState.NOT_ASKED
        rounds = (Round(get("h"), get("m"), get("due"), get("at"), get("day"), state, asks,
                        get("ans"), tuple(get("told") or ())),)
    else:
        rounds = ()
    alerts = get("alerts")
    if alerts:
        alerts = tuple(Alert(kind, h, m, at, tuple(to), due)
                       for kind, h, m, at, to, due in alerts)
    return UserRecord(user_id, rounds, get("tz"), get("v", 0), alerts or ())


def _state(state: Optional[RoundState]) -> Optional[str]:
    return None if state is None else state.value
