"""What the bot pushed this month (pushes count against LINE's monthly quota; replies do
not): per user, and how many of them were watch alerts. Months are "YYYY-MM" in the bot's
zone; each month's counters expire after the next one. On Redis Cluster each shard counts
its own users (a multicast's count is one call per shard, beside the shard's other keys)."""
from typing import Dict, Iterable

from storage import lua

KEEP_SECONDS = 62 * 24 * 3600


class Usage:
    def __init__(self, client, layout):
        self.redis = client
        self.keys = layout
        self._count_pushes = lua.register(client, "count_pushes.lua")

    def count_pushes(self, month: str, user_ids: Iterable[str], alerts: int = 0) -> None:
        layout = self.keys
        by_shard = layout.by_shard(user_ids)
        if alerts and not by_shard:
            by_shard[0] = []
        for shard, users in by_shard.items():
            self._count_pushes(keys=[layout.pushes_in(month, shard),
                                     layout.alerts_in(month, shard)],
                               args=[KEEP_SECONDS, alerts, *users])
            alerts = 0   # counted once, in the first shard's counter

    def pushes(self, month: str, user_ids: Iterable[str]) -> Dict[str, int]:
        user_ids = list(user_ids)
        if not user_ids:
            return {}
        layout, counts = self.keys, {}
        for shard, users in layout.by_shard(user_ids).items():
            counts.update(zip(users, self.redis.hmget(layout.pushes_in(month, shard), users)))
        return {user_id: int(counts[user_id] or 0) for user_id in user_ids}

    def alerts(self, month: str) -> int:
        return sum(int(self.redis.get(self.keys.alerts_in(month, shard)) or 0)
                   for shard in range(self.keys.shards))
