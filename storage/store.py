"""Redis persistence. Knows Redis and key shapes; knows nothing about chat or LINE."""
from typing import Iterator, List, Optional, Tuple

import orjson
import redis

from actors.state import UserRecord
from storage import keys

CLAIM_WON = "won"
CLAIM_SENT = "sent"
CLAIM_PENDING = "pending"

PUSH_RECORD_TTL = 3 * 24 * 3600
EVENT_DEDUPE_TTL = 24 * 3600

# Compare-and-set on the version carried inside the stored JSON. Version 0 means "absent".
# KEYS[1] user key; ARGV[1] the version read, ARGV[2] the new JSON.
_CHECK_AND_SET = """
local current = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[1])
if current then
  if cjson.decode(current)['v'] ~= expected then return 0 end
elseif expected ~= 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
"""
_SAVE_IF_VERSION = _CHECK_AND_SET + "return 1"

# Claim one push attempt: "won" (send it), "sent" (someone did), or "pending" + ms left on
# another sender's lease (it may still be in flight, or it died: retry after the lease).
# KEYS[2] claim key; ARGV[3] lease in ms.
_CLAIM = """
if redis.call('SET', KEYS[2], 'pending', 'NX', 'PX', ARGV[3]) then return {'won', 0} end
if redis.call('GET', KEYS[2]) == 'sent' then return {'sent', 0} end
return {'pending', redis.call('PTTL', KEYS[2])}
"""

# The two steps of an ask, one round trip each. The record part refuses (0) when the record
# changed since it was read, so a decision made on stale state is made again.
_SAVE_AND_CLAIM = _CHECK_AND_SET + _CLAIM
# KEYS[2] claim key; ARGV[3] how long to remember that the attempt was shown.
_CONFIRM_AND_SAVE = """
redis.call('SET', KEYS[2], 'sent', 'EX', ARGV[3])
""" + _SAVE_IF_VERSION


class Conflict(Exception):
    """The stored record changed since it was loaded (another process, or a lost write)."""


def connect(url: str, max_connections: int = 64) -> redis.Redis:
    """A client whose pool makes callers wait for a free connection instead of failing:
    a burst wakes thousands of actors at once, and the default pool raises past 100."""
    options = {"health_check_interval": 30, "socket_keepalive": True,
               "max_connections": max_connections, "timeout": 20}
    if url.startswith("rediss://"):
        # Heroku Redis presents a self-signed certificate.
        options["ssl_cert_reqs"] = None
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **options))


class Store:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._save_if_version = client.register_script(_SAVE_IF_VERSION)
        self._save_and_claim = client.register_script(_SAVE_AND_CLAIM)
        self._confirm_and_save = client.register_script(_CONFIRM_AND_SAVE)

    # -- users ---------------------------------------------------------------------------
    def load(self, user_id: str) -> Optional[UserRecord]:
        raw = self.redis.get(keys.user(user_id))
        return None if raw is None else UserRecord.from_dict(user_id, orjson.loads(raw))

    def save(self, record: UserRecord) -> None:
        """Write `record` if nobody changed it since it was read; bump its version."""
        version, data = self._next_version(record)
        if not self._save_if_version(keys=[keys.user(record.user_id)],
                                     args=[record.version, data]):
            raise Conflict(record.user_id)
        record.version = version

    @staticmethod
    def _next_version(record: UserRecord):
        data = record.to_dict()
        data["v"] = record.version + 1
        return data["v"], orjson.dumps(data)

    def delete(self, user_id: str) -> None:
        self.redis.delete(keys.user(user_id))

    def load_all(self, batch: int = 2000) -> Iterator[UserRecord]:
        """Every stored user: SCAN in batches, one MGET per batch."""
        prefix_len = len(keys.user(""))
        for key_batch in self.scan_batches(keys.USER_PATTERN, batch):
            for key, raw in zip(key_batch, self.redis.mget(key_batch)):
                if raw is not None:
                    yield UserRecord.from_dict(key[prefix_len:].decode(), orjson.loads(raw))

    def scan_batches(self, pattern: str, batch: int) -> Iterator[List[bytes]]:
        cursor = 0
        while True:
            cursor, found = self.redis.scan(cursor, match=pattern, count=batch)
            if found:
                yield found
            if cursor == 0:
                return

    # -- push claims ---------------------------------------------------------------------
    def save_and_claim(self, record: UserRecord, day: str, attempt: int,
                       lease_seconds: float) -> Tuple[str, float]:
        """`save(record)` and claim this push attempt, in one round trip: CLAIM_WON (send it),
        CLAIM_SENT (another sender showed it) or CLAIM_PENDING with the seconds left on another
        sender's lease. Raises Conflict when the record changed since it was read."""
        version, data = self._next_version(record)
        answer = self._save_and_claim(
            keys=[keys.user(record.user_id), keys.push_claim(record.user_id, day, attempt)],
            args=[record.version, data, max(1, int(lease_seconds * 1000))])
        if answer == 0:
            raise Conflict(record.user_id)
        record.version = version
        status, ttl_ms = answer
        return status.decode(), ttl_ms / 1000.0

    def confirm_and_save(self, record: UserRecord, day: str, attempt: int) -> None:
        """Mark the attempt as shown (always) and `save(record)`, in one round trip."""
        version, data = self._next_version(record)
        saved = self._confirm_and_save(
            keys=[keys.user(record.user_id), keys.push_claim(record.user_id, day, attempt)],
            args=[record.version, data, PUSH_RECORD_TTL])
        if not saved:
            raise Conflict(record.user_id)
        record.version = version

    def release_push(self, user_id: str, day: str, attempt: int) -> None:
        self.redis.delete(keys.push_claim(user_id, day, attempt))

    # -- webhook redelivery ----------------------------------------------------------------
    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen (kept one day)."""
        return bool(self.redis.set(keys.webhook_event(event_id), 1, nx=True, ex=EVENT_DEDUPE_TTL))
