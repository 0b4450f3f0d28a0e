"""Builds the running bot from settings: Redis (embedded when REDIS_URL is unset), the store,
the LINE outbox, the timer and the actor system."""
import logging
import os
import sys
from dataclasses import dataclass
from typing import Optional

from actors.system import ActorSystem
from actors.timer import Timer
from outbox.line import LineOutbox
from storage import migrate
from storage.redis_server import RedisServer
from storage.store import Store, connect

log = logging.getLogger(__name__)

MISSING_CREDENTIALS = """\
usa-reminder needs LINE channel credentials. Set:
  CHANNEL_SECRET        the channel secret (Basic settings of your Messaging API channel)
  CHANNEL_ACCESS_TOKEN  a channel access token (Messaging API tab)
and point the channel's webhook URL at https://<your host>/callback.
"""


@dataclass
class Runtime:
    system: ActorSystem
    store: Store
    outbox: LineOutbox
    channel_secret: str
    debug_token: Optional[str]
    embedded_redis: Optional[RedisServer] = None

    def close(self):
        self.store.redis.close()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


def build_runtime(settings) -> Runtime:
    if not settings.has_line_credentials:
        sys.stderr.write(MISSING_CREDENTIALS)
        raise SystemExit(2)
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = RedisServer(os.path.join(settings.data_dir, "redis"), port=0,
                               persistent=True).start()
        redis_url = embedded.url
        log.info("REDIS_URL unset: embedded Redis on 127.0.0.1:%d, data in %s",
                 embedded.port, os.path.join(settings.data_dir, "redis"))
    store = Store(connect(redis_url))
    imported = migrate.import_go_users(store, settings.timezone)
    if imported:
        log.info("imported %d users from the Go bot's keys", imported)
    outbox = LineOutbox(settings.line_api_base_url, settings.channel_access_token,
                        timeout=settings.line_timeout_seconds,
                        rate=settings.push_rate_per_second,
                        concurrency=settings.push_concurrency)
    system = ActorSystem(settings, store, outbox, Timer())
    return Runtime(system=system, store=store, outbox=outbox,
                   channel_secret=settings.channel_secret, debug_token=settings.debug_token,
                   embedded_redis=embedded)
