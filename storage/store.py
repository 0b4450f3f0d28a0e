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

Every key is spelled in storage/keys.py; every script is a file in storage/scripts/ whose
header is its contract; docs/design.md, Key layout, draws the whole layout."""
import uuid
from typing import Optional

import redis

from storage import upgrade
from storage.alert_claims import AlertClaims
from storage.batches import AskBatches
from storage.due import DueIndex
from storage.events import WebhookEvents
from storage.go_import import GoImport
from storage.outage import Outage
from storage.pipelining import Pipeliner
from storage.processes import Processes
from storage.usage import Usage
from storage.users import Users
from storage.watches import Watches


def connect(url: str, max_connections: int = 64) -> redis.Redis:
    """A client whose pool makes callers wait for a free connection instead of failing:
    a burst wakes thousands of actors at once, and the default pool raises past 100."""
    options = {"health_check_interval": 30, "socket_keepalive": True,
               "socket_connect_timeout": 5, "socket_timeout": 10,
               "max_connections": max_connections, "timeout": 20}
    if url.startswith("rediss://"):
        # Heroku Redis presents a self-signed certificate.
        options["ssl_cert_reqs"] = None
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **options))


class Store:
    def __init__(self, client: redis.Redis, token: Optional[str] = None,
                 legacy: upgrade.Legacy = upgrade.DEFAULTS):
        """`token`: this process, in the leases it holds; `legacy`: the settings records of
        earlier versions were written under (storage/upgrade.py)."""
        self.redis = client
        self.outage = Outage()
        self.pipeliner = Pipeliner(client)  # commands of a moment share a round trip
        token = token or uuid.uuid4().hex
        self.users = Users(client, self.pipeliner, self.outage, legacy)
        self.due = DueIndex(client, self.pipeliner, self.outage)
        self.processes = Processes(client, self.outage)
        self.batches = AskBatches(client, self.pipeliner, self.outage, self.processes, token)
        self.alert_claims = AlertClaims(client, self.pipeliner, self.outage, token)
        self.events = WebhookEvents(client, self.pipeliner, self.outage, self.users,
                                    self.processes, token)
        self.watches = Watches(client, self.pipeliner)
        self.usage = Usage(client)
        self.go_import = GoImport(client, self.outage)

    @property
    def token(self) -> str:
        return self.batches.token

    @token.setter
    def token(self, token: str) -> None:
        """A new start of the process: leases of the one before are another process's."""
        self.batches.token = self.alert_claims.token = self.events.token = token

    @property
    def unavailable(self) -> bool:
        """The last call found Redis unreachable."""
        return self.outage.ongoing
