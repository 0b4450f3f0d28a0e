"""The bot's Redis: one small object per structure, on one client. Knows Redis and key shapes;
knows nothing about chat or LINE.

    users         each user's record, saved by compare-and-set       storage/users.py
    due           the due index (sorted set by next due time)         storage/due.py
    batches       ask batches: the exactly-once protocol for asks     storage/batches.py
    alert_claims  leases on telling a watcher an alert                storage/alert_claims.py
    events        webhook events, taken in until handled, then a day  storage/events.py
    processes     the processes alive (heartbeats)                    storage/processes.py
    watches       family watch codes and links                        storage/watches.py
    usage         pushes counted per month                            storage/usage.py
    go_import     the Go bot's users, imported once                   storage/go_import.py

Every key is spelled by the layout of storage/keys.py (one Redis, or Redis Cluster with a
hash tag per shard); every script is a file in storage/scripts/ whose header is its contract;
docs/design.md, Key layout, draws the whole layout."""
import uuid
from typing import Optional

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from storage import keys, upgrade
from storage.alert_claims import AlertClaims
from storage.batches import AskBatches
from storage.due import DueIndex
from storage.events import WebhookEvents
from storage.go_import import GoImport
from storage.nodes import Nodes
from storage.outage import Outage
from storage.pipelining import Pipeliner
from storage.processes import Processes
from storage.usage import Usage
from storage.users import Users
from storage.watches import Watches


def connect(url: str, max_connections: int = 64, cluster: bool = False):
    """A client whose pool makes callers wait for a free connection instead of failing:
    a burst wakes thousands of actors at once, and the default pool raises past 100.
    `cluster`: a Redis Cluster client, `url` one of its nodes (the others are found from
    it), with such a pool for each master."""
    options = {"health_check_interval": 30, "socket_keepalive": True,
               "socket_connect_timeout": 5, "socket_timeout": 10,
               "max_connections": max_connections, "timeout": 20}
    if url.startswith("rediss://"):
        # Heroku Redis presents a self-signed certificate.
        options["ssl_cert_reqs"] = None
    if cluster:
        # A failover takes a second or two: a call retries a few times within ~0.1 s, then
        # it is an outage (storage/outage.py) and the caller tries again a second later.
        return RedisCluster.from_url(
            url, connection_pool_class=redis.BlockingConnectionPool,
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), retries=3),
            **options)
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **options))


class Store:
    def __init__(self, client, token: Optional[str] = None,
                 legacy: upgrade.Legacy = upgrade.DEFAULTS, layout: keys.Layout = None):
        """`token`: this process, in the leases it holds; `legacy`: the settings records of
        earlier versions were written under (storage/upgrade.py); `layout`: the key names
        (by default the client's: a Redis Cluster client gets the cluster's)."""
        self.redis = client
        self.keys = layout or keys.layout(isinstance(client, RedisCluster))
        self.nodes = Nodes(client)
        self.outage = Outage(on_seen=self.nodes.stale, partial=self.keys.cluster)
        self.pipeliner = Pipeliner(client, nodes=self.nodes)  # commands of a moment share
        token = token or uuid.uuid4().hex                     # a round trip
        layout, nodes = self.keys, self.nodes
        self.users = Users(client, self.pipeliner, self.outage, layout, nodes, legacy)
        self.due = DueIndex(client, self.pipeliner, self.outage, layout, nodes)
        self.processes = Processes(client, self.outage, layout)
        self.batches = AskBatches(client, self.pipeliner, self.outage, self.processes, token,
                                  layout, nodes)
        self.alert_claims = AlertClaims(client, self.pipeliner, self.outage, token, layout)
        self.events = WebhookEvents(client, self.pipeliner, self.outage, self.users,
                                    self.processes, token, layout)
        self.watches = Watches(client, self.pipeliner, self.outage, layout)
        self.usage = Usage(client, layout)
        self.go_import = GoImport(client, self.outage, layout)

    @property
    def token(self) -> str:
        return self.batches.token

    @token.setter
    def token(self, token: str) -> None:
        """A new start of the process: leases of the one before are another process's."""
        self.batches.token = self.alert_claims.token = self.events.token = token
