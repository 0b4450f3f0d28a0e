"""What the bot pushed this month (pushes count against LINE's monthly quota; replies do
not): per user, and how many of them were watch alerts. Months are "YYYY-MM" in the bot's
zone; each month's counters expire after the next one."""
from typing import Dict, Iterable

from storage import keys

KEEP_SECONDS = 62 * 24 * 3600


# One call for a whole multicast's recipients. KEYS[1] the month's pushes per user, KEYS[2]
# its watch alerts; ARGV[1] seconds to keep them, ARGV[2] alerts to add, then the user ids.
_COUNT_PUSHES = """
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
if #ARGV > 2 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
"""


class Usage:
    def __init__(self, client):
        self.redis = client
        self._count_pushes = client.register_script(_COUNT_PUSHES)

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
