"""Redis persistence. Knows Redis and key shapes; knows nothing about chat or LINE."""
import functools
import logging
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import orjson
import redis

from actors.state import UserRecord
from storage import keys
from storage.pipelining import Pipeliner

# What a batch claim says about one user's ask (see _CLAIM_BATCH).
CLAIM_WON = "won"            # claimed for this batch: send it
CLAIM_SENT = "sent"          # LINE already took this ask (another sender, or before a restart)
CLAIM_PENDING = "pending"    # another sender holds it: look again after its lease
CLAIM_RESEND = "resend"      # an earlier batch holds it, unsent as far as we know: resend it
CLAIM_CONFLICT = "conflict"  # the record changed since it was read: decide again
# What taking an earlier batch back says (see _TAKE_BATCH); also CLAIM_SENT, CLAIM_PENDING.
BATCH_TAKEN = "taken"
BATCH_GONE = "gone"

log = logging.getLogger(__name__)

PUSH_RECORD_TTL = 3 * 24 * 3600
EVENT_DEDUPE_TTL = 24 * 3600

# Compare-and-set on the version carried inside the stored JSON. Version 0 means "absent".
# KEYS[1] user key; ARGV[1] the version read, ARGV[2] the new JSON.
_SAVE_IF_VERSION = """
local current = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[1])
if current then
  if cjson.decode(current)['v'] ~= expected then return 0 end
elseif expected ~= 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# Claim each user's ask for one batch and save their record with it (compare-and-set),
# atomically. A claim names the batch that holds the ask ("b:<id>"); the batch's body
# (recipients and attempt) and lease are written in the same call, so whoever finds the claim
# later can resend exactly the same request with the same retry key (the batch id): LINE
# answers 409 if it took it before. Keys of other batches are built from their id
# (single-node Redis).
# Only a won claim writes the record: while another sender holds the ask, the record is
# theirs (they save its progress after LINE answers), and a write here would make them drop
# the progress of an ask they delivered.
# KEYS[1] this batch's body, KEYS[2] its lease, then per user: user key, claim key.
# ARGV[1] batch id, ARGV[2] lease ms, ARGV[3] ttl s, ARGV[4] batch key prefix, ARGV[5] attempt,
# then per user: user id, version read, new JSON.
_CLAIM_BATCH = """
local prefix = ARGV[4]
local recipients, answers = {}, {}
for i = 1, (#KEYS - 2) / 2 do
  local user_key, claim_key, a = KEYS[2 * i + 1], KEYS[2 * i + 2], 3 * i + 3
  local current = redis.call('GET', user_key)
  local expected = tonumber(ARGV[a + 1])
  local fresh
  if current then fresh = cjson.decode(current)['v'] == expected else fresh = expected == 0 end
  if not fresh then
    answers[i] = {'conflict', ''}
  else
    local claim = redis.call('GET', claim_key)
    local other = claim and string.match(claim, '^b:(.+)$')
    if other and redis.call('EXISTS', prefix .. other) == 0 then claim, other = nil, nil end
    if not claim then
      redis.call('SET', user_key, ARGV[a + 2])
      redis.call('SET', claim_key, 'b:' .. ARGV[1], 'EX', ARGV[3])
      recipients[#recipients + 1] = ARGV[a]
      answers[i] = {'won', ''}
    elseif claim == 'pending' then  -- a one-user claim from before batches
      answers[i] = {'pending', tostring(redis.call('PTTL', claim_key))}
    elseif not other then
      answers[i] = {'sent', ''}
    elseif redis.call('EXISTS', prefix .. other .. ':sent') == 1 then
      answers[i] = {'sent', ''}
    else
      local left = redis.call('PTTL', prefix .. other .. ':lease')
      if left > 0 then answers[i] = {'pending', tostring(left)}
      else answers[i] = {'resend', other} end
    end
  end
end
if #recipients > 0 then
  local body = cjson.encode({to = recipients, attempt = tonumber(ARGV[5])})
  redis.call('SET', KEYS[1], body, 'EX', ARGV[3])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
end
return answers
"""

# Take the lease on an earlier batch to resend it.
# KEYS[1] body, KEYS[2] lease, KEYS[3] sent mark; ARGV[1] lease ms.
_TAKE_BATCH = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {'sent', ''} end
local body = redis.call('GET', KEYS[1])
if not body then return {'gone', ''} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {'taken', body} end
return {'pending', tostring(redis.call('PTTL', KEYS[2]))}
"""


class BatchAnswer(NamedTuple):
    status: str
    lease_left: float = 0.0       # CLAIM_PENDING: seconds left on the other sender's lease
    batch_id: Optional[str] = None  # CLAIM_RESEND: the batch that holds the ask


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class Conflict(Exception):
    """The stored record changed since it was loaded (another process, or a lost write)."""


class StorageUnavailable(Exception):
    """Redis cannot be reached right now (a restart, a failover, the network): nothing was
    decided on it; try again later. The store logs the outage once, not every caller."""


# LOADING (a restarting Redis reading its data back) is a ConnectionError too.
_OUTAGE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _outage_aware(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except _OUTAGE_ERRORS as exc:
            if not self.unavailable:
                self.unavailable = True
                log.warning("Redis unavailable (%s); retrying until it is back",
                            type(exc).__name__)
            raise StorageUnavailable(type(exc).__name__) from exc
        if self.unavailable:
            self.unavailable = False
            log.warning("Redis available again")
        return result
    return call


def connect(url: str, max_connections: int = 64) -> redis.Redis:
    """A client whose pool makes callers wait for a free connection instead of failing:
    a burst wakes thousands of actors at once, and the default pool raises past 100."""
    options = {"health_check_interval": 30, "socket_keepalive": True,
               "socket_connect_timeout": 5, "socket_timeout": 10,
               "max_connections": max_connections, "timeout": 20}
    if url.startswith("rediss://"):
        # Heroku Redis presents a self-signed certificate.
        options["ssl_cert_reqs"] = None
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **options))


class Store:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._pipeliner = Pipeliner(client)
        self._save_if_version = client.register_script(_SAVE_IF_VERSION)
        self._claim_batch = client.register_script(_CLAIM_BATCH)
        self._take_batch = client.register_script(_TAKE_BATCH)
        self.unavailable = False  # the last call found Redis unreachable

    # -- users ---------------------------------------------------------------------------
    @_outage_aware
    def load(self, user_id: str) -> Optional[UserRecord]:
        raw = self.redis.get(keys.user(user_id))
        return None if raw is None else UserRecord.from_dict(user_id, orjson.loads(raw))

    @_outage_aware
    def save(self, record: UserRecord) -> None:
        """Write `record` if nobody changed it since it was read; bump its version. Saves made
        by many actors at the same moment share one round trip."""
        version, data = self._next_version(record)
        if not self._pipeliner.call(lambda pipe: self._save_if_version(
                keys=[keys.user(record.user_id)], args=[record.version, data], client=pipe)):
            raise Conflict(record.user_id)
        record.version = version

    @staticmethod
    def _next_version(record: UserRecord):
        data = record.to_dict()
        data["v"] = record.version + 1
        return data["v"], orjson.dumps(data)

    @_outage_aware
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

    # -- batched asks ----------------------------------------------------------------------
    @_outage_aware
    def claim_batch(self, batch_id: str, attempt: int, asks: Sequence[Tuple[UserRecord, str]],
                    lease_seconds: float) -> List[BatchAnswer]:
        """Claim each (record, day)'s ask `attempt` for this batch and save the record, in
        one atomic call. Only records whose claim is won are saved (and get a new version)."""
        user_keys, user_args, versions = [], [], []
        for record, day in asks:
            version, data = self._next_version(record)
            versions.append(version)
            user_keys += [keys.user(record.user_id), keys.push_claim(record.user_id, day, attempt)]
            user_args += [record.user_id, record.version, data]
        replies = self._claim_batch(
            keys=[keys.batch(batch_id), keys.batch_lease(batch_id), *user_keys],
            args=[batch_id, _ms(lease_seconds), PUSH_RECORD_TTL, keys.BATCH_PREFIX, attempt,
                  *user_args])
        answers = []
        for (record, _), version, (status, detail) in zip(asks, versions, replies):
            status, detail = status.decode(), detail.decode()
            if status == CLAIM_WON:
                record.version = version
            if status == CLAIM_PENDING:
                answers.append(BatchAnswer(status, lease_left=int(detail) / 1000.0))
            elif status == CLAIM_RESEND:
                answers.append(BatchAnswer(status, batch_id=detail))
            else:
                answers.append(BatchAnswer(status))
        return answers

    @_outage_aware
    def take_batch(self, batch_id: str, lease_seconds: float) -> Tuple[str, Optional[dict]]:
        """Take the lease on an earlier batch to resend it: (BATCH_TAKEN, its body),
        (CLAIM_SENT, None), (CLAIM_PENDING, {"lease_left": s}) or (BATCH_GONE, None)."""
        status, detail = self._take_batch(
            keys=[keys.batch(batch_id), keys.batch_lease(batch_id), keys.batch_sent(batch_id)],
            args=[_ms(lease_seconds)])
        status = status.decode()
        if status == BATCH_TAKEN:
            return status, orjson.loads(detail)
        if status == CLAIM_PENDING:
            return status, {"lease_left": int(detail) / 1000.0}
        return status, None

    @_outage_aware
    def finish_batch(self, batch_id: str, shown: bool) -> None:
        """LINE took the batch: mark it, so nobody sends it again (its lease just runs out).
        LINE did not: drop the lease, so the next try resends it at once. Either way one
        command, sharing a round trip with the saves made at the same moment."""
        if shown:
            self._pipeliner.call(lambda pipe: pipe.set(keys.batch_sent(batch_id), 1,
                                                       ex=PUSH_RECORD_TTL))
        else:
            self._pipeliner.call(lambda pipe: pipe.delete(keys.batch_lease(batch_id)))

    # -- webhook redelivery ----------------------------------------------------------------
    @_outage_aware
    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen (kept one day)."""
        return bool(self._pipeliner.call(lambda pipe: pipe.set(
            keys.webhook_event(event_id), 1, nx=True, ex=EVENT_DEDUPE_TTL)))
