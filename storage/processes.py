"""The processes alive: each renews a heartbeat key (keys.alive) every second, which expires
a few seconds after the process stops. An ask batch held by a process without one is resent
at once, without waiting for its lease (storage/batches.py)."""
from storage.outage import outage_aware


class Processes:
    def __init__(self, client, outage, layout):
        self.redis = client
        self.outage = outage
        self.keys = layout

    @outage_aware
    def heartbeat(self, token: str, ttl_seconds: float) -> None:
        """The process `token` is alive for `ttl_seconds`."""
        self.redis.set(self.keys.alive(token), 1, px=_ms(ttl_seconds))

    @outage_aware
    def alive(self, token: str) -> bool:
        return bool(self.redis.exists(self.keys.alive(token)))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
