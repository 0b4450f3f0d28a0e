"""Redis persistence. Knows Redis and key shapes; knows nothing about chat or LINE."""
import enum
import functools
import logging
import uuid
from datetime import date
from types import MappingProxyType
from typing import Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence

import orjson
import redis

from domain.history import DayTally, TallyChange, outcome_index
from domain.user import UserRecord
from logsafe import short_id
from storage import history, keys, migrate, records
from storage.pipelining import Pipeliner

log = logging.getLogger(__name__)

PUSH_RECORD_TTL = 3 * 24 * 3600
EVENT_DEDUPE_TTL = 24 * 3600

# The version inside a stored record (0 when it has none, as records.decode reads it),
# found without decoding the whole JSON: "v" is the only key of that name, and no value can
# hold the characters `"v":` (records.encode).
VERSION_OF_LUA = """
local function version_of(raw)
  return tonumber(string.match(raw, '"v"%s*:%s*(%d+)')) or 0
end
"""

# Compare-and-set on the version carried inside each stored JSON (0: absent), for one record
# or many, each on its own: the record, the changes to the user's record (記録) that its new
# state brings, and the user's place in the due index, in one atomic call. KEYS[1] the due
# index, then per user their record and history keys; per user ARGV: version read, new JSON,
# user id, next due time ('': none), the number n of tally changes, then n (day number,
# outcome index, delta) triples. Returns 1 (saved) or 0 (changed meanwhile) per user.
_SAVE_IF_VERSION = history.APPLY_CHANGES_LUA + VERSION_OF_LUA + """
local saved, a = {}, 0
for i = 1, (#KEYS - 1) / 2 do
  local user_key, history_key = KEYS[2 * i], KEYS[2 * i + 1]
  local changes = tonumber(ARGV[a + 5])
  local current = redis.call('GET', user_key)
  local expected = tonumber(ARGV[a + 1])
  local fresh
  if current then fresh = version_of(current) == expected else fresh = expected == 0 end
  if fresh then
    redis.call('SET', user_key, ARGV[a + 2])
    if ARGV[a + 4] == '' then redis.call('ZREM', KEYS[1], ARGV[a + 3])
    else redis.call('ZADD', KEYS[1], ARGV[a + 4], ARGV[a + 3]) end
    if changes > 0 then apply_changes(history_key, a + 6, a + 5 + 3 * changes) end
    saved[i] = 1
  else
    saved[i] = 0
  end
  a = a + 5 + 3 * changes
end
return saved
"""

# A webhook event seen for the first time (kept ARGV[1] seconds), and then the record of the
# user it is for. KEYS[1] the event's dedupe key, KEYS[2] the user's record.
_FIRST_DELIVERY_READING = """
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then return {0, false} end
return {1, redis.call('GET', KEYS[2])}
"""

# Claim the users due by ARGV[1] for this process: their scores move ARGV[2] ahead (a lease:
# the save after their ask sets the real next due time; if this process dies, they come due
# again).
# KEYS[1] the due index; ARGV[3] at most this many. Returns {users, the next score or false}.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, user in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], user) end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {due, next[2] or false}
"""

# Claim ask ARGV[5] of each user's round that starts at ARGV[6] for one batch, atomically, if
# the user's record is still the version the caller decided on. The claim of a round's first
# ask also writes the record with that round started (asking, nothing delivered yet), so that
# from this moment an answer, in any process, finds the round open; whoever asked saves the
# user's progress once LINE has answered. A claim names the batch that
# holds the ask ("b:<id>"); the batch's body (recipients, attempt, round) and lease are
# written in the same call, so whoever finds the claim later can resend exactly the same
# request with the same retry key (the batch id): LINE answers 409 if it took it before.
# For a user with one time the day's claim of the version that knew one time per user
# (keys.push_claim) is honoured and written too, so that the two never both ask during a
# deploy. Keys of other batches are built from their id (single-node Redis).
# KEYS[1] this batch's body, KEYS[2] its lease, then per user: user key, round claim key,
# day claim key. ARGV[1] batch id, ARGV[2] lease ms, ARGV[3] ttl s, ARGV[4] batch key prefix,
# ARGV[5] attempt, ARGV[6] round start, ARGV[7] this process's token, ARGV[8] the key prefix of
# live processes' heartbeats; then per user: user id, version read, "1" if the day claim
# applies, the record with the round started ('': not a first ask). A batch whose sender's
# heartbeat stopped is resent at once, lease or not.
_CLAIM_BATCH = VERSION_OF_LUA + """
local prefix, round_at, alive = ARGV[4], tonumber(ARGV[6]), ARGV[8]
local recipients, answers = {}, {}

local function live_batch(claim)
  local id = claim and string.match(claim, '^b:(.+)$')
  if id and redis.call('EXISTS', prefix .. id) == 1 then return id end
  return nil
end

local function day_claim(claim)
  -- A day claim counts for this round if it was made for it, or by the one-time version
  -- (its batches name no round; 'pending' and 'sent' come from the one-push-per-ask one).
  if claim == 'pending' or claim == 'sent' then return claim end
  local id = live_batch(claim)
  if not id then return nil end
  local body = cjson.decode(redis.call('GET', prefix .. id))
  if body['round'] == nil or body['round'] == round_at then return claim end
  return nil
end

for i = 1, (#KEYS - 2) / 3 do
  local user_key, claim_key, day_key, a = KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2], 5 + 4 * i
  local current = redis.call('GET', user_key)
  local expected = tonumber(ARGV[a + 1])
  local fresh
  if current then fresh = version_of(current) == expected else fresh = expected == 0 end
  if not fresh then
    answers[i] = {'conflict', ''}
  else
    local with_day = ARGV[a + 2] == '1'
    local claim = redis.call('GET', claim_key)
    if claim and not live_batch(claim) then claim = nil end
    if not claim and with_day then claim = day_claim(redis.call('GET', day_key)) end
    if not claim then
      if ARGV[a + 3] ~= '' then redis.call('SET', user_key, ARGV[a + 3]) end
      redis.call('SET', claim_key, 'b:' .. ARGV[1], 'EX', ARGV[3])
      if with_day then redis.call('SET', day_key, 'b:' .. ARGV[1], 'EX', ARGV[3]) end
      recipients[#recipients + 1] = ARGV[a]
      answers[i] = {'won', ''}
    elseif claim == 'pending' then
      answers[i] = {'held', tostring(redis.call('PTTL', day_key))}
    elseif claim == 'sent' then
      answers[i] = {'sent', ''}
    else
      local other = string.match(claim, '^b:(.+)$')
      if redis.call('EXISTS', prefix .. other .. ':sent') == 1 then
        answers[i] = {'sent', ''}
      else
        local lease = prefix .. other .. ':lease'
        local holder = redis.call('GET', lease)
        if holder and redis.call('EXISTS', alive .. holder) == 1 then
          answers[i] = {'held', tostring(math.max(1, redis.call('PTTL', lease)))}
        else
          answers[i] = {'resend', other}
        end
      end
    end
  end
end
if #recipients > 0 then
  local body = cjson.encode({to = recipients, attempt = tonumber(ARGV[5]), round = round_at})
  redis.call('SET', KEYS[1], body, 'EX', ARGV[3])
  redis.call('SET', KEYS[2], ARGV[7], 'PX', ARGV[2])
end
return answers
"""

# Take the lease on an earlier batch to resend it, unless a live process holds it.
# KEYS[1] body, KEYS[2] lease, KEYS[3] sent mark; ARGV[1] lease ms, ARGV[2] this process's
# token, ARGV[3] the heartbeat key prefix.
_TAKE_BATCH = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {'sent', ''} end
local body = redis.call('GET', KEYS[1])
if not body then return {'gone', ''} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. holder) == 1 then
  return {'held', tostring(math.max(1, redis.call('PTTL', KEYS[2])))}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
return {'taken', body}
"""


# A lease on telling one watcher one alert, held by one process (it may take it again).
# KEYS[1] the claim; ARGV[1] the process's token, ARGV[2] lease ms. Returns 0 when this process
# holds it now, else the ms left on another's lease.
_CLAIM_ALERT = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return math.max(1, redis.call('PTTL', KEYS[1])) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
"""


class ClaimStatus(enum.Enum):
    """What a batch claim says about one user's ask."""
    WON = "won"            # claimed for this batch: send it
    SENT = "sent"          # LINE already took this ask (another sender, or before a restart)
    HELD = "held"          # another sender holds it: look again after its lease
    RESEND = "resend"      # an earlier batch holds it, unsent as far as we know: resend it
    CONFLICT = "conflict"  # the record changed since it was read: decide again


class Claim(NamedTuple):
    status: ClaimStatus
    lease_left: float = 0.0         # HELD: seconds left on the other sender's lease
    batch_id: Optional[str] = None  # RESEND: the batch that holds the ask


_CLAIM_STATUS = {status.value.encode(): status for status in ClaimStatus}
_PLAIN_CLAIM = {status: Claim(status) for status in ClaimStatus}  # a burst reads thousands


class TakeStatus(enum.Enum):
    """What taking an earlier batch back (to resend it) says."""
    TAKEN = "taken"  # this process holds it now: resend its body
    SENT = "sent"    # LINE took it meanwhile
    HELD = "held"    # another sender is resending it
    GONE = "gone"    # it expired with its claims: the next try claims afresh


class Taken(NamedTuple):
    status: TakeStatus
    body: Optional[dict] = None     # TAKEN: {"to": [...], "attempt": k, "round": at}
    lease_left: float = 0.0         # HELD


class Ask(NamedTuple):
    """One user's part in a batch claim: the record decided on, and whether the user's day
    claim applies (one time: keys.push_claim of this `day`)."""
    record: UserRecord
    day: Optional[str] = None


def _changes_args(changes: Sequence[TallyChange]) -> list:
    """How many changes, then their (day number, outcome index, delta) triples."""
    args = [len(changes)]
    for change in changes:
        args += [history.day_number(change.day), outcome_index(change.outcome), change.delta]
    return args


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
    def __init__(self, client: redis.Redis, token: Optional[str] = None):
        self.redis = client
        # This process, in the leases it holds (see heartbeat).
        self.token = token or uuid.uuid4().hex
        self.pipeliner = Pipeliner(client)  # shared with the other stores on this client
        self._save_if_version = client.register_script(_SAVE_IF_VERSION)
        self._claim_batch = client.register_script(_CLAIM_BATCH)
        self._take_batch = client.register_script(_TAKE_BATCH)
        self._claim_alert = client.register_script(_CLAIM_ALERT)
        self._claim_due = client.register_script(_CLAIM_DUE)
        self._first_delivery_reading = client.register_script(_FIRST_DELIVERY_READING)
        self.unavailable = False  # the last call found Redis unreachable

    # -- users ---------------------------------------------------------------------------
    @_outage_aware
    def load(self, user_id: str) -> Optional[UserRecord]:
        """Loads made by many actors at the same moment share one round trip."""
        raw = self.pipeliner.call(lambda pipe: pipe.get(keys.user(user_id)))
        return None if raw is None else records.decode(user_id, raw)

    @_outage_aware
    def save(self, record: UserRecord, changes: Sequence[TallyChange] = ()) -> None:
        """Write `record` if nobody changed it since it was read, with the changes to the
        user's record (記録) its new state brings; bump its version. Saves made by many actors
        at the same moment share one round trip."""
        if self.save_many([record], {record.user_id: changes}):
            raise Conflict(record.user_id)

    @_outage_aware
    def save_many(self, batch: Sequence[UserRecord],
                  changes: Mapping[str, Sequence[TallyChange]] = MappingProxyType({})
                  ) -> List[UserRecord]:
        """`save` for many records in one call, each on its own compare-and-set with its
        user's tally changes (`changes` by user id), sharing a round trip with what else is
        sent at that moment. Returns the records that changed meanwhile and were not saved."""
        if not batch:
            return []
        user_keys, args = [keys.DUE], []
        for record in batch:
            due = record.due
            user_id = record.user_id
            user_keys += [keys.user(user_id), keys.history(user_id)]
            args += [record.version, records.encode(record, record.version + 1), user_id,
                     "" if due is None else repr(due)]
            args += _changes_args(changes.get(user_id, ()))
        saved = self.pipeliner.call(lambda pipe: self._save_if_version(
            keys=user_keys, args=args, client=pipe))
        conflicts = []
        for record, ok in zip(batch, saved):
            if ok:
                record.version += 1
            else:
                conflicts.append(record)
        return conflicts

    @_outage_aware
    def delete(self, user_id: str) -> None:
        """The user's times and rounds; their record (記録) stays."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.user(user_id))
        pipe.zrem(keys.DUE, user_id)
        pipe.execute()

    @_outage_aware
    def forget(self, user_id: str) -> None:
        """Everything stored about the user."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(keys.user(user_id), keys.history(user_id))
        pipe.zrem(keys.DUE, user_id)
        pipe.execute()

    @_outage_aware
    def load_many(self, user_ids: Sequence[str]) -> List[Optional[UserRecord]]:
        """Each user's record (None where there is none, or where it cannot be read: that
        is logged, and the user's own `load` fails alone), one MGET."""
        if not user_ids:
            return []
        raws = self.redis.mget([keys.user(user_id) for user_id in user_ids])
        loaded = []
        for user_id, raw in zip(user_ids, raws):
            try:
                loaded.append(None if raw is None else records.decode(user_id, raw))
            except Exception as exc:  # one broken record must not stop the others
                log.error("the record of %s cannot be read (%s)", short_id(user_id),
                          type(exc).__name__)
                loaded.append(None)
        return loaded

    @_outage_aware
    def import_go_users(self, timezone_name: str) -> int:
        """The Go bot's users, once (storage/migrate.py); how many were imported."""
        return migrate.import_go_users(self, timezone_name)

    # -- the due index ---------------------------------------------------------------------
    @_outage_aware
    def claim_due(self, now: float, lease_seconds: float, limit: int):
        """(the users due by `now`, now this process's for `lease_seconds`; the next due
        time in the index, or None)."""
        users, following = self._claim_due(keys=[keys.DUE],
                                           args=[repr(now), repr(now + lease_seconds), limit])
        return ([user.decode() for user in users],
                None if following is None else float(following))

    @_outage_aware
    def schedule(self, user_id: str, due: Optional[float]) -> None:
        """Set the user's place in the due index (their record was not saved)."""
        if due is None:
            self.pipeliner.call(lambda pipe: pipe.zrem(keys.DUE, user_id))
        else:
            self.pipeliner.call(lambda pipe: pipe.zadd(keys.DUE, {user_id: due}))

    @_outage_aware
    def due_head(self, limit: int):
        """The first (user id, due time) pairs of the index, and how many it holds."""
        if limit <= 0:
            return [], self.redis.zcard(keys.DUE)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.DUE, 0, limit - 1, withscores=True)
        pipe.zcard(keys.DUE)
        head, count = pipe.execute()
        return [(user.decode(), score) for user, score in head], count

    @_outage_aware
    def build_due_index(self, batch: int = 2000) -> int:
        """Index every stored user's next due time (users stored before the index existed).
        Returns how many users have one."""
        indexed = 0
        for records_ in self._batches_of_records(batch):
            dues = {record.user_id: record.due for record in records_ if record.due is not None}
            if dues:
                self.redis.zadd(keys.DUE, dues)
                indexed += len(dues)
        self.redis.set(keys.DUE_INDEXED, 1)
        return indexed

    @_outage_aware
    def due_index_built(self) -> bool:
        return bool(self.redis.exists(keys.DUE_INDEXED))

    def _batches_of_records(self, batch):
        prefix_len = len(keys.user(""))
        for key_batch in self.scan_batches(keys.USER_PATTERN, batch):
            yield [records.decode(key[prefix_len:].decode(), raw)
                   for key, raw in zip(key_batch, self.redis.mget(key_batch)) if raw is not None]

    # -- the processes alive ---------------------------------------------------------------
    @_outage_aware
    def heartbeat(self, ttl_seconds: float) -> None:
        """This process is alive for `ttl_seconds`: a batch it holds is not resent meanwhile."""
        self.redis.set(keys.alive(self.token), 1, px=_ms(ttl_seconds))

    @_outage_aware
    def history(self, user_id: str) -> Dict[date, DayTally]:
        return history.decode(self.redis.get(keys.history(user_id)) or b"")

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
    def claim_batch(self, batch_id: str, attempt: int, round_at: float, asks: Sequence[Ask],
                    lease_seconds: float) -> List[Claim]:
        """Claim ask `attempt` of each user's round starting at `round_at` for this batch,
        in one atomic call, where the user's record is still the version decided on. For a
        first ask each record won (holding the round as started) is written too, and its
        version moves on."""
        user_keys, user_args = [], []
        for ask in asks:
            record = ask.record
            user_id = record.user_id
            user_keys += [keys.user(user_id), keys.ask_claim(user_id, round_at, attempt),
                          keys.push_claim(user_id, ask.day or "-", attempt)]
            user_args += [user_id, record.version, "1" if ask.day else "0",
                          records.encode(record, record.version + 1) if attempt == 0 else ""]
        replies = self._claim_batch(
            keys=[keys.batch(batch_id), keys.batch_lease(batch_id), *user_keys],
            args=[batch_id, _ms(lease_seconds), PUSH_RECORD_TTL, keys.BATCH_PREFIX, attempt,
                  int(round_at), self.token, keys.alive(""), *user_args])
        claims = []
        for ask, (status, detail) in zip(asks, replies):
            status = _CLAIM_STATUS[status]
            if attempt == 0 and status is ClaimStatus.WON:
                ask.record.version += 1  # written with the round started
            if status is ClaimStatus.HELD:
                claims.append(Claim(status, lease_left=int(detail) / 1000.0))
            elif status is ClaimStatus.RESEND:
                claims.append(Claim(status, batch_id=detail.decode()))
            else:
                claims.append(_PLAIN_CLAIM[status])
        return claims

    @_outage_aware
    def take_batch(self, batch_id: str, lease_seconds: float) -> Taken:
        """Take the lease on an earlier batch to resend it."""
        status, detail = self._take_batch(
            keys=[keys.batch(batch_id), keys.batch_lease(batch_id), keys.batch_sent(batch_id)],
            args=[_ms(lease_seconds), self.token, keys.alive("")])
        status = TakeStatus(status.decode())
        if status is TakeStatus.TAKEN:
            return Taken(status, body=orjson.loads(detail))
        if status is TakeStatus.HELD:
            return Taken(status, lease_left=int(detail) / 1000.0)
        return Taken(status)

    @_outage_aware
    def finish_batch(self, batch_id: str, shown: bool) -> None:
        """LINE took the batch: mark it, so nobody sends it again (its lease just runs out).
        LINE did not: drop the lease, so the next try resends it at once. Either way one
        command, sharing a round trip with the saves made at the same moment."""
        if shown:
            self.pipeliner.call(lambda pipe: pipe.set(keys.batch_sent(batch_id), 1,
                                                       ex=PUSH_RECORD_TTL))
        else:
            self.pipeliner.call(lambda pipe: pipe.delete(keys.batch_lease(batch_id)))

    @_outage_aware
    def claim_alert(self, user_id: str, alert_id: str, watcher: str,
                    lease_seconds: float) -> float:
        """0.0 when this process may tell `watcher` the alert now, else the seconds another
        process still holds it."""
        held = self.pipeliner.call(lambda pipe: self._claim_alert(
            keys=[keys.alert_claim(user_id, alert_id, watcher)],
            args=[self.token, _ms(lease_seconds)], client=pipe))
        return held / 1000.0

    # -- webhook redelivery ----------------------------------------------------------------
    @_outage_aware
    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen (kept one day)."""
        return bool(self.pipeliner.call(lambda pipe: pipe.set(
            keys.webhook_event(event_id), 1, nx=True, ex=EVENT_DEDUPE_TTL)))

    @_outage_aware
    def first_delivery_reading(self, event_id: str, user_id: str):
        """(`first_delivery`, and when it is the first: the user's record, a new one when
        none is stored), in one round trip."""
        first, raw = self.pipeliner.call(lambda pipe: self._first_delivery_reading(
            keys=[keys.webhook_event(event_id), keys.user(user_id)], args=[EVENT_DEDUPE_TTL],
            client=pipe))
        if not first:
            return False, None
        return True, UserRecord(user_id) if raw is None else records.decode(user_id, raw)
