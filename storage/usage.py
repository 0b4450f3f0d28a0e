"""What the bot pushed this month (pushes count against LINE's monthly quota; replies do
not): per user, and how many of them were watch alerts. Months are "YYYY-MM" in the bot's
zone; each month's counters expire after the next one."""
from typing import Dict, Iterable

from storage import keys, lua

KEEP_SECONDS = 62 * 24 * 3600


class Usage:
    def __init__(self, client):
        self.redis = client
        self._count_pushes = lua.register(client, "count_pushes.lua")

    def count_pushes(self, month: str, user_ids: Iterable[str], alerts: int = 0) -> None:
        self._count_pushes(keys=[keys.pushes_in(month), keys.alerts_in(month)],
                           args=[KEEP_SECONDS, alerts, *user_ids])

    def pushes(self, month: str, user_ids: Iterable[str]) -> Dict[str, int]:
        user_ids = list(user_ids)
        if not user_ids:
            return {}
        counts = self.redis.hmget(keys.pushes_in(month), user_ids)
        return {user_id: int(count or 0) for user_id, count in zip(user_ids, counts)}

    def alerts(self, month: str) -> int:
        return int(self.redis.get(keys.alerts_in(month)) or 0)
