"""Where a key's commands go. On one Redis: the client. On Redis Cluster: a plain client of
the master that serves the key's slot, so that the commands of one moment for one master
share one pipeline (storage/pipelining.py), a script is sent as it is sent to one Redis, and
a WAIT follows the very write it waits for, on the same connection (storage/batches.py).

The map of slots to masters is redis-py's (`RedisCluster`). A failover moves slots to
another master: a call that meets a dead master, a MOVED or a demoted master's READONLY is
an outage (storage/outage.py), and the map is read again before the next call."""
import time

import redis
from redis.cluster import RedisCluster

REFRESH_AT_MOST_EVERY = 0.25  # seconds: a failover's errors arrive together


class Nodes:
    def __init__(self, client):
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self._stale = False
        self._refreshed = 0.0

    def client_for(self, key) -> redis.Redis:
        """The client that serves `key`."""
        if not self.cluster:
            return self.client
        if self._stale:
            self._refresh()
        return self.client.get_redis_connection(self.client.get_node_from_key(key))

    def node_name(self, key) -> str:
        if not self.cluster:
            return ""
        if self._stale:
            self._refresh()
        return self.client.get_node_from_key(key).name

    def stale(self) -> None:
        """The slot map may be wrong (an outage was seen): read it again before the next
        call that needs it."""
        if self.cluster:
            self._stale = True

    def _refresh(self):
        now = time.monotonic()
        if now - self._refreshed < REFRESH_AT_MOST_EVERY:
            return
        self._refreshed = now
        try:
            self.client.nodes_manager.initialize()
        except redis.exceptions.RedisClusterException as exc:  # no node answers: an outage
            raise redis.exceptions.ConnectionError(str(exc)) from exc
        self._stale = False
