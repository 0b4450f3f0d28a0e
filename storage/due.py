"""The due index: every user's next due time, a Redis sorted set (keys.DUE) of user ids
scored by epoch seconds. A save sets a user's score (scripts/save_records.lua); the scheduler
takes the users due (scripts/claim_due.lua), which moves them a lease ahead, so that one
process handles each and a process that dies leaves them to come due again."""
from typing import List, Optional, Tuple

from storage import keys, lua
from storage.outage import outage_aware


class DueIndex:
    def __init__(self, client, pipeliner, outage):
        self.redis = client
        self.outage = outage
        self._pipeliner = pipeliner
        self._claim_due = lua.register(client, "claim_due.lua")

    @outage_aware
    def claim(self, now: float, lease_seconds: float,
              limit: int) -> Tuple[List[str], Optional[float]]:
        """(the users due by `now`, now this process's for `lease_seconds`; the next due
        time left in the index, or None)."""
        users, following = self._claim_due(keys=[keys.DUE],
                                           args=[repr(now), repr(now + lease_seconds), limit])
        return ([user.decode() for user in users],
                None if following is None else float(following))

    @outage_aware
    def schedule(self, user_id: str, due: Optional[float]) -> None:
        """Set the user's place (None: out of the index), when their record was not saved."""
        if due is None:
            self._pipeliner.call(lambda pipe: pipe.zrem(keys.DUE, user_id))
        else:
            self._pipeliner.call(lambda pipe: pipe.zadd(keys.DUE, {user_id: due}))

    @outage_aware
    def head(self, limit: int) -> Tuple[List[Tuple[str, float]], int]:
        """The first (user id, due time) pairs of the index, and how many it holds."""
        if limit <= 0:
            return [], self.redis.zcard(keys.DUE)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(keys.DUE, 0, limit - 1, withscores=True)
        pipe.zcard(keys.DUE)
        head, count = pipe.execute()
        return [(user.decode(), score) for user, score in head], count

    @outage_aware
    def build_once(self, users) -> Optional[int]:
        """Index every stored user's next due time, once (records stored before the index
        existed); how many users have one, or None when it was built before."""
        if self.redis.exists(keys.DUE_INDEXED):
            return None
        indexed = 0
        for batch in users.scan():
            dues = {record.user_id: record.due for record in batch if record.due is not None}
            if dues:
                self.redis.zadd(keys.DUE, dues)
                indexed += len(dues)
        self.redis.set(keys.DUE_INDEXED, 1)
        return indexed
