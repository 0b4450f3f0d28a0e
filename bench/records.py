"""Users written straight into Redis in the bot's own format (storage/records.py), with a
pipeline: the fast way to have N users before the server starts."""
from datetime import datetime
from typing import Iterable, Iterator

from domain.rounds import Dose, RoundState
from domain.user import UserRecord
from domain.wallclock import local_day, zone
from settings import Settings
from redis.cluster import RedisCluster

from storage import keys
from storage.records import encode  # exactly what Store.save writes

BOT_ZONE = zone(Settings.timezone)  # records carry no zone of their own: the bot's default


def user_id(i: int) -> str:
    """A LINE-shaped user id ("U" + 32 hex digits), deterministic for index i."""
    return f"U{i:032x}"


def wall_time(at: float):
    local = datetime.fromtimestamp(at, BOT_ZONE)
    return local.hour, local.minute


def first_ask_record(uid: str, due: float, times: int = 1) -> UserRecord:
    """A user whose daily first ask falls due at `due` (nothing asked today); with
    `times` > 1, further times every two hours after it."""
    hour, minute = wall_time(due)
    doses = [Dose(hour, minute, due=due)]
    for extra in range(1, times):
        later = due + extra * 7200
        doses.append(Dose(*wall_time(later), due=later))
    return UserRecord(uid, tuple(sorted(doses)), version=1)


def reask_record(uid: str, due: float, asks: int = 1) -> UserRecord:
    """A user asked `asks` times today, not answered yet, next re-ask due at `due`. The round
    started on the minute, as rounds do (a time is hours and minutes): users whose re-asks fall
    due together after one burst share its start, and so their re-ask's multicast."""
    first = (due - 600 * asks) // 60 * 60
    hour, minute = wall_time(first)
    return UserRecord(uid, (Dose(hour, minute, due=due, at=first, day=local_day(due, BOT_ZONE),
                                  state=RoundState.ASKING, asks=asks),), version=1)


def idle_record(uid: str, now: float, times: int = 1) -> UserRecord:
    """A user who took today's doses and waits for tomorrow (due in ~24 h)."""
    doses = []
    for extra in range(times):
        at = now - 60 - extra * 7200
        hour, minute = wall_time(at)
        doses.append(Dose(hour, minute, due=at + 86400, at=at, day=local_day(at, BOT_ZONE),
                            state=RoundState.TAKEN, asks=1, answered_at=at + 30))
    return UserRecord(uid, tuple(sorted(doses)), version=1)


def write(client, records: Iterable[UserRecord], batch: int = 5000) -> int:
    """SET every record under its key, and its next due time in the due index (as the bot's
    save does), with a non-transactional pipeline; returns the count. On a Redis Cluster
    client, in the cluster's layout."""
    layout = layout_of(client)
    written = 0
    pipe = client.pipeline(transaction=False)
    for record in records:
        pipe.set(layout.user(record.user_id), encode(record, record.version))
        if record.due is not None:
            pipe.zadd(layout.due(layout.shard_of(record.user_id)),
                      {record.user_id: record.due})
        written += 1
        if written % batch == 0:
            pipe.execute()
    pipe.set(keys.DUE_INDEXED, 1)   # every record written here is indexed
    pipe.execute()
    return written


def layout_of(client) -> keys.Layout:
    return keys.layout(isinstance(client, RedisCluster))


def ids(n: int, start: int = 0) -> Iterator[str]:
    return (user_id(i) for i in range(start, start + n))
