"""One-time import of the Go bot's users (`user_<id>` keys), without touching its keys.

The Go bot stored either "H:M" or JSON {"id", "hour", "minute", "notifies"} per user. Users
that already exist here win; a marker key makes the import happen once, so a user who later
deletes their setting is not brought back by the next restart. The Go bot ran on one Redis:
a Redis Cluster has none of its keys.
"""
import json
import logging
import time

from domain.rounds import Dose
from domain.user import UserRecord
from domain.days import EVERY_DAY, next_ask
from domain.wallclock import zone
from storage import keys, records
from storage.outage import outage_aware
from storage.users import scan_keys

log = logging.getLogger(__name__)


def parse_go_value(raw: bytes):
    """(hour, minute) from a Go bot value, or None when it is not one."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        if text.startswith("{"):
            data = json.loads(text)
            hour, minute = int(data["hour"]), int(data["minute"])
        else:
            hour_text, minute_text = text.split(":")
            hour, minute = int(hour_text), int(minute_text)
    except (ValueError, KeyError, TypeError):
        return None
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return hour, minute
    return None


class GoImport:
    def __init__(self, client, outage, layout=keys.ONE_REDIS):
        self.redis = client
        self.outage = outage
        self.keys = layout

    @outage_aware
    def run(self, timezone_name: str) -> int:
        """The Go bot's users, once; how many were imported."""
        if self.keys.cluster:
            return 0
        return import_go_users(self.redis, timezone_name)


def import_go_users(client, timezone_name="Asia/Tokyo", now=None) -> int:
    """How many of the Go bot's users were imported (0 once done), on one Redis."""
    layout = keys.ONE_REDIS
    if client.exists(keys.MIGRATION_DONE):
        return 0
    now = time.time() if now is None else now
    tz = zone(timezone_name)
    imported = 0
    for batch in scan_keys(client, keys.GO_USER_PATTERN, 1000):
        values = client.mget(batch)
        pipe = client.pipeline(transaction=False)
        for key, raw in zip(batch, values):
            parsed = None if raw is None else parse_go_value(raw)
            if parsed is None:
                continue
            user_id = key.decode()[len(keys.GO_USER_PREFIX):]
            hour, minute = parsed
            due = next_ask(hour, minute, EVERY_DAY, tz, now)
            record = UserRecord(user_id, (Dose(hour, minute, due),))
            pipe.set(layout.user(user_id), records.encode(record, 1), nx=True)
            pipe.zadd(layout.due(), {user_id: due}, nx=True)
        imported += sum(1 for created in pipe.execute()[::2] if created)
    client.set(keys.MIGRATION_DONE, int(now))
    return imported
