"""What the bot pushed this month (pushes count against LINE's monthly quota; replies do
not): per user, and how many of them were watch alerts. Months are "YYYY-MM" in the bot's
zone; each month's counters expire after the next one."""
from typing import Dict, Iterable

from storage import keys

KEEP_SECONDS = 62 * 24 * 3600


class Usage:
    def __init__(self, client):
        self.redis = client

    def count_pushes(self, month: str, user_ids: Iterable[str], alerts: int = 0) -> None:
        pipe = self.redis.pipeline(transaction=False)
        counted = False
        for user_id in user_ids:
            pipe.hincrby(keys.pushes_in(month), user_id, 1)
            counted = True
        if counted:
            pipe.expire(keys.pushes_in(month), KEEP_SECONDS)
        if alerts:
            pipe.incrby(keys.alerts_in(month), alerts)
            pipe.expire(keys.alerts_in(month), KEEP_SECONDS)
        pipe.execute()

    def pushes(self, month: str, user_ids: Iterable[str]) -> Dict[str, int]:
        user_ids = list(user_ids)
        if not user_ids:
            return {}
        counts = self.redis.hmget(keys.pushes_in(month), user_ids)
        return {user_id: int(count or 0) for user_id, count in zip(user_ids, counts)}

    def alerts(self, month: str) -> int:
        return int(self.redis.get(keys.alerts_in(month)) or 0)
