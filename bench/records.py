"""Users written straight into Redis in the bot's own format (storage/keys.py,
actors/state.py), with a pipeline: the fast way to have N users before the server starts."""
from datetime import datetime
from typing import Iterable, Iterator

import orjson

from actors import state
from actors.schedule import local_day, zone
from actors.state import UserRecord
from settings import Settings
from storage import keys

BOT_ZONE = zone(Settings.timezone)  # records carry no zone of their own: the bot's default


def user_id(i: int) -> str:
    """A LINE-shaped user id ("U" + 32 hex digits), deterministic for index i."""
    return f"U{i:032x}"


def encode(record: UserRecord) -> bytes:
    """Exactly what storage.store.Store.save writes (orjson.dumps of to_dict)."""
    return orjson.dumps(record.to_dict())


def wall_time(at: float):
    local = datetime.fromtimestamp(at, BOT_ZONE)
    return local.hour, local.minute


def first_ask_record(uid: str, due: float) -> UserRecord:
    """A user whose daily first ask falls due at `due` (nothing asked today)."""
    hour, minute = wall_time(due)
    return UserRecord(uid, hour=hour, minute=minute, due=due, version=1)


def reask_record(uid: str, due: float, asks: int = 1) -> UserRecord:
    """A user asked `asks` times today, not answered yet, next re-ask due at `due`."""
    hour, minute = wall_time(due - 600)
    return UserRecord(uid, hour=hour, minute=minute, day=local_day(due, BOT_ZONE),
                      round=state.ASKING, asks=asks, due=due, version=1)


def idle_record(uid: str, now: float) -> UserRecord:
    """A user who took today's dose and waits for tomorrow (due in ~24 h)."""
    hour, minute = wall_time(now)
    return UserRecord(uid, hour=hour, minute=minute, day=local_day(now, BOT_ZONE),
                      round=state.TAKEN, asks=1, answered_at=now - 60, due=now + 86400 - 60,
                      version=1)


def write(client, records: Iterable[UserRecord], batch: int = 5000) -> int:
    """SET every record under its key with a non-transactional pipeline; returns the count."""
    written = 0
    pipe = client.pipeline(transaction=False)
    for record in records:
        pipe.set(keys.user(record.user_id), encode(record))
        written += 1
        if written % batch == 0:
            pipe.execute()
    pipe.execute()
    return written


def ids(n: int, start: int = 0) -> Iterator[str]:
    return (user_id(i) for i in range(start, start + n))
