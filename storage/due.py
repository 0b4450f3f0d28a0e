"""The due index: every user's next due time, a Redis sorted set of user ids scored by epoch
seconds (one per shard on Redis Cluster: keys.Layout.due). A save sets a user's score
(scripts/save_records.lua); the scheduler takes the users due (scripts/claim_due.lua), shard
by shard, which moves them a lease ahead, so that one process handles each and a process
that dies leaves them to come due again."""
import heapq
from typing import List, Optional, Tuple

from storage import keys, lua
from storage.outage import outage_aware


class DueIndex:
    def __init__(self, client, pipeliner, outage, layout, nodes):
        self.redis = client
        self.outage = outage
        self.keys = layout
        self._nodes = nodes
        self._pipeliner = pipeliner
        self._claim_due = lua.register(client, "claim_due.lua")

    @property
    def shards(self) -> range:
        return range(self.keys.shards)

    @outage_aware
    def claim(self, now: float, lease_seconds: float, limit: int,
              shard: int = 0) -> Tuple[List[str], Optional[float]]:
        """(the users of `shard` due by `now`, now this process's for `lease_seconds`; the
        next due time left in the shard's index, or None)."""
        users, following = self._claim_due(keys=[self.keys.due(shard)],
                                           args=[repr(now), repr(now + lease_seconds), limit])
        return ([user.decode() for user in users],
                None if following is None else float(following))

    @outage_aware
    def schedule(self, user_id: str, due: Optional[float]) -> None:
        """Set the user's place (None: out of the index), when their record was not saved."""
        key = self.keys.due(self.keys.shard_of(user_id))
        if due is None:
            self._pipeliner.call(lambda pipe: pipe.zrem(key, user_id), key)
        else:
            self._pipeliner.call(lambda pipe: pipe.zadd(key, {user_id: due}), key)

    @outage_aware
    def head(self, limit: int) -> Tuple[List[Tuple[str, float]], int]:
        """The first (user id, due time) pairs of the index (of all shards), and how many
        it holds."""
        heads, count = [], 0
        for shard in self.shards:
            key = self.keys.due(shard)
            client = self._nodes.client_for(key)
            if limit <= 0:
                count += client.zcard(key)
                continue
            pipe = client.pipeline(transaction=False)
            pipe.zrange(key, 0, limit - 1, withscores=True)
            pipe.zcard(key)
            head, shard_count = pipe.execute()
            heads.append([(user.decode(), score) for user, score in head])
            count += shard_count
        merged = list(heapq.merge(*heads, key=lambda pair: pair[1]))[:max(0, limit)]
        return merged, count

    @outage_aware
    def build_once(self, users) -> Optional[int]:
        """Index every stored user's next due time, once (records stored before the index
        existed, on one Redis; a cluster's records were all written with it); how many
        users have one, or None when it was built before."""
        if self.keys.cluster or self.redis.exists(keys.DUE_INDEXED):
            return None
        indexed = 0
        for batch in users.scan():
            dues = {record.user_id: record.due for record in batch if record.due is not None}
            if dues:
                self.redis.zadd(self.keys.due(), dues)
                indexed += len(dues)
        self.redis.set(keys.DUE_INDEXED, 1)
        return indexed
