"""Every Redis key the bot uses, spelled in one place under one prefix. Scripts never build a
key: their callers pass in what a `Layout` spells (docs/design.md, Key layout).

A layout is built from the settings and handed to every store:

- `ONE_REDIS` (the default): one shard, no hash tags: `usa:user:<id>`, `usa:due`, ... the
  names every deployment on one Redis has always had (a single Redis has no slots).
- `Layout(CLUSTER_SHARDS)` (REDIS_CLUSTER=1): each user belongs to one of a fixed number of
  shards (a stable hash of the user id), and every key of the user (their webhook events
  too), of the shard's due index, of its inbox and of its ask batches carries the shard's
  hash tag: `usa:{1234}:user:<id>`, `usa:{1234}:due`, ... so that everything one script
  touches (a batch claim of up to 500 users, a save of a group, an event taken in with the
  user's record) lies in one slot of Redis Cluster."""
import zlib

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

PREFIX = "usa"

# Shards of a cluster layout. Fixed: a user's shard is part of their keys' names, so changing
# it would move every user. 16 lets up to 16 masters share the 8:00 asks, while a shard keeps
# enough users due at the same minute to fill multicasts of 500 (docs/design.md, Redis
# Cluster, says how it was chosen).
CLUSTER_SHARDS = 16

MIGRATION_DONE = f"{PREFIX}:migrated:go"
# The mark that users stored before the due index existed have been indexed (one Redis).
DUE_INDEXED = f"{PREFIX}:due:indexed"

# Keys the Go bot (kawasin73/usa-reminder) wrote; read once by storage/go_import.py, never written.
GO_USER_PATTERN = "user_*"
GO_USER_PREFIX = "user_"

WATCH_CODES = 10 ** 6   # a watch code is six digits


def _tags(shards: int):
    """A hash tag for each shard, chosen so that shard i's slot lies in the i-th of `shards`
    equal ranges of the 16384 slots: a cluster whose masters each serve an equal range (as
    `redis-cli --cluster create` and managed services lay them out) gets an equal share of
    the shards, whatever their number."""
    width = REDIS_CLUSTER_HASH_SLOTS / shards
    tags, candidate = [None] * shards, 0
    while None in tags:
        shard = int(key_slot(str(candidate).encode()) // width)
        if tags[shard] is None:
            tags[shard] = str(candidate)
        candidate += 1
    return tags


class Layout:
    """Key names for `shards` shards: 1, one Redis without tags; more, Redis Cluster."""

    def __init__(self, shards: int = 1):
        self.shards = shards
        self.cluster = shards > 1
        self.tags = _tags(shards) if self.cluster else [None]
        # Every key of shard i starts with prefixes[i].
        self.prefixes = ([f"{PREFIX}:{{{tag}}}:" for tag in self.tags] if self.cluster
                         else [f"{PREFIX}:"])
        self.user_pattern = f"{PREFIX}:user:*"

    def shard_of(self, user_id: str) -> int:
        """The user's shard: a stable hash of the id (the same in every process and release)."""
        if not self.cluster:
            return 0
        return zlib.crc32(user_id.encode()) % self.shards

    def by_shard(self, items, user_of=lambda user_id: user_id) -> dict:
        """`items` by their user's shard, in order within each."""
        grouped = {}
        for item in items:
            grouped.setdefault(self.shard_of(user_of(item)), []).append(item)
        return grouped

    def _of(self, user_id: str) -> str:
        if not self.cluster:  # (one call less: a burst spells several keys per user)
            return self.prefixes[0]
        return self.prefixes[self.shard_of(user_id)]

    # -- a user's keys ---------------------------------------------------------------------
    def user(self, user_id: str) -> str:
        return f"{self._of(user_id)}user:{user_id}"

    def history(self, user_id: str) -> str:
        """The user's history (記録): how each day's rounds ended (storage/history.py)."""
        return f"{self._of(user_id)}log:{user_id}"

    def ask_claim(self, user_id: str, round_at: float, attempt: int) -> str:
        """Which batch holds ask `attempt` of the user's round that starts at `round_at`
        (epoch s): "b:<batch id>"."""
        return f"{self._of(user_id)}ask:{user_id}:{int(round_at)}:{attempt}"

    def unhandled(self, user_id: str) -> str:
        """The user's webhook events taken in and not handled yet (a sorted set of event ids
        by when each was taken in): no ask of theirs goes out while one taken in during the
        last minute is (scripts/claim_asks.lua)."""
        return f"{self._of(user_id)}unhandled:{user_id}"

    def alert_claim(self, user_id: str, alert_id: str, watcher: str) -> str:
        """Which process is telling `watcher` the user's alert `alert_id` (a lease)."""
        return f"{self._of(user_id)}alert:{user_id}:{alert_id}:{watcher}"

    def webhook_event(self, event_id: str, user_id: str = None) -> str:
        """A webhook event (storage/events.py): what it says until it is handled, then that
        it was. An event from a user is in the user's shard (scripts/take_in_event.lua
        reads it with the user's record, scripts/save_records.lua writes it with it); one
        from no user (a group's message) is apart."""
        if not user_id:
            return f"{PREFIX}:event:{event_id}"
        return self.event_in(self.shard_of(user_id), event_id)

    # -- a shard's keys --------------------------------------------------------------------
    def due(self, shard: int = 0) -> str:
        """The shard's due index: a sorted set of user ids scored by their next due time."""
        return f"{self.prefixes[shard]}due"

    def inbox(self, shard: int = 0) -> str:
        """The shard's webhook events taken in and not handled yet (storage/events.py): a
        sorted set of event ids scored by when they were taken in."""
        return f"{self.prefixes[shard]}inbox"

    def event_in(self, shard: int, event_id: str) -> str:
        """The key of a user's webhook event in `shard` (as found in the shard's inbox)."""
        return f"{self.prefixes[shard]}event:{event_id}"

    def batch(self, shard: int, batch_id: str) -> str:
        """One batched ask (storage/batches.py): its body (recipients, attempt, round)."""
        return f"{self.prefixes[shard]}batch:{batch_id}"

    def batch_lease(self, shard: int, batch_id: str) -> str:
        """A sender's lease on the batch."""
        return f"{self.prefixes[shard]}batch:{batch_id}:lease"

    def batch_sent(self, shard: int, batch_id: str) -> str:
        """Mark: LINE took the batch."""
        return f"{self.prefixes[shard]}batch:{batch_id}:sent"

    def pushes_in(self, month: str, shard: int = 0) -> str:
        """Pushes (asks and alerts) per user in a month ("YYYY-MM", the bot's zone), for the
        users of the shard."""
        return f"{self.prefixes[shard]}pushes:{month}"

    def alerts_in(self, month: str, shard: int = 0) -> str:
        """Watch alerts sent in a month (counted in the shard of the user watched)."""
        return f"{self.prefixes[shard]}alerts:{month}"

    # -- family watch (storage/watches.py) -------------------------------------------------
    def code_shard(self, code: str) -> int:
        """A watch code lives in its owner's shard, told by the code itself (its number
        modulo the shard count: storage/watches.py draws codes so)."""
        return int(code) % self.shards if self.cluster else 0

    def watch_code(self, code: str) -> str:
        """A code -> who made it."""
        return f"{self.prefixes[self.code_shard(code)]}watch:code:{code}"

    def watch_code_of(self, user_id: str) -> str:
        """The user's live code."""
        return f"{self._of(user_id)}watch:code-of:{user_id}"

    def watchers(self, user_id: str) -> str:
        """Who watches the user: whom the user's alerts go to."""
        return f"{self._of(user_id)}watch:watchers:{user_id}"

    def watching(self, user_id: str) -> str:
        """Whom the user watches."""
        return f"{self._of(user_id)}watch:watching:{user_id}"

    def watching_since(self, user_id: str) -> str:
        """A hash beside `watching`: person watched -> when the watch began (epoch s). Links
        made before it existed have no field."""
        return f"{self._of(user_id)}watch:since:{user_id}"

    def watch_failures(self, user_id: str) -> str:
        """The user's wrong codes this hour."""
        return f"{self._of(user_id)}watch:fails:{user_id}"

    # -- the process -----------------------------------------------------------------------
    @staticmethod
    def alive(token: str) -> str:
        """A running process's heartbeat (expires a few seconds after it stops)."""
        return f"{PREFIX}:alive:{token}"


ONE_REDIS = Layout(1)


def layout(cluster: bool) -> Layout:
    return Layout(CLUSTER_SHARDS) if cluster else ONE_REDIS
