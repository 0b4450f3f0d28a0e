import importlib
import os
import tempfile

import pytest
from freezegun import freeze_time

from actors.base import Activity
from actors.system import ActorSystem
from outbox.line import LineOutbox
from settings import Settings
from simulator.platform import LinePlatform, NoDelayWSGIServer
from storage.redis_server import LocalCluster, RedisServer
from storage.store import Store, connect
from tests.support import ManualTimer, new_user_id
from web import create_app

# The bot imports line-bot-sdk's models on first use (webhook_events.py), and tests use them. In a
# test that first use may come while freezegun has replaced datetime.date, and pydantic's
# classes cannot be defined then (a metaclass conflict): import them before any time is frozen.
for _models in ("linebot.v3.messaging", "linebot.v3.webhooks"):
    importlib.import_module(_models)

SECRET = "test-channel-secret"
TOKEN = "test-channel-token"
TOKYO_MORNING = "2026-11-26 21:00:00"  # UTC: 06:00 on 2026-11-27 in Tokyo


def _for_the_session(prefix, server_class):
    """A server_class (RedisServer, LocalCluster) in a temporary directory, stopped by PID
    when the session ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        with server_class(data_dir, executable=os.environ.get("REDIS_SERVER")) as server:
            yield server


@pytest.fixture(scope="session")
def redis_server():
    yield from _for_the_session("usa-test-redis-", RedisServer)


@pytest.fixture(scope="session")
def redis_cluster():
    """A local Redis Cluster (3 masters, 3 replicas) from the same redis-server binary,
    started once for the session, by the first test that needs it."""
    yield from _for_the_session("usa-test-cluster-", LocalCluster)


@pytest.fixture
def one_redis_client(redis_server):
    client = connect(redis_server.url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def cluster_client(redis_cluster):
    client = connect(redis_cluster.url, cluster=True)
    client.flushdb()   # on every master
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(one_redis_client):
    return one_redis_client


def on_one_redis_and_a_cluster():
    """A `redis_client` fixture for a test module whose tests run twice: on one Redis, and
    on the local Redis Cluster (`redis_client = on_one_redis_and_a_cluster()`)."""
    @pytest.fixture(name="redis_client", params=["one_redis_client", "cluster_client"],
                    ids=["one-redis", "cluster"])
    def both(request):
        return request.getfixturevalue(request.param)
    return both


def connect_like(store, request):
    """Another client of the Redis (or the cluster) `store` is on: another process."""
    if store.keys.cluster:
        return connect(request.getfixturevalue("redis_cluster").url, cluster=True)
    return connect(request.getfixturevalue("redis_server").url)


@pytest.fixture
def store(redis_client):
    return Store(redis_client)


@pytest.fixture
def platform():
    line = LinePlatform(channel_secret=SECRET, channel_token=TOKEN).start()
    yield line
    line.stop()


def make_settings(**overrides):
    # No polling of the due index on a manual clock: every due time the test sets is known.
    values = dict(channel_secret=SECRET, channel_access_token=TOKEN, snooze_interval_seconds=600,
                  max_reasks=10, missed_ask_grace_seconds=1800, line_timeout_seconds=2.0,
                  scheduler_poll_seconds=None)
    values.update(overrides)
    return Settings(**values)


class Bot:
    """The whole bot in this process: real Redis, real SDK client, the LINE stand-in, the
    real WSGI app on a socket, and a manual timer on frozen time."""

    def __init__(self, store, platform, frozen, settings, outbox_options=None):
        self.store = store
        self.platform = platform
        self.frozen = frozen
        self.settings = settings
        self.activity = Activity()
        self.timer = ManualTimer(frozen, self.activity)
        self.outbox = LineOutbox(platform.base_url, TOKEN, timeout=settings.line_timeout_seconds,
                                 rate=settings.push_rate_per_second, backoff=0.01,
                                 max_backoff=0.05, **(outbox_options or {}))
        self.system = None
        self.server = None

    def start(self):
        self.system = ActorSystem(self.settings, self.store, self.outbox, self.timer,
                                  self.activity)
        app = create_app(channel_secret=SECRET, system=self.system, store=self.store,
                         outbox=self.outbox, debug_token="debug-token")
        self.server = NoDelayWSGIServer(("127.0.0.1", 0), app, log=None)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"
        self.platform.webhook_url = self.url
        self.system.start()
        return self

    def restart(self):
        """Lose everything in memory (as a crash would) and restore from Redis."""
        self.stop()
        self.activity = Activity()
        self.timer = ManualTimer(self.frozen, self.activity)
        return self.start()

    def stop(self):
        if self.server is not None:
            self.server.stop(timeout=1)
        if self.system is not None:
            self.system.stop(timeout=5)

    def kill(self):
        """Stop dead, as SIGKILL would: nothing is finished, nothing written after this (and
        its heartbeat stops)."""
        self.server.stop(timeout=0)
        self.system.stop(timeout=0)
        self.server = self.system = None

    # -- driving it like a user (the webhook goes to this bot) -----------------------------
    def say(self, user_id, text):
        self.platform.webhook_url = self.url
        assert self.platform.send_text(user_id, text) == 200
        self.timer.settle()

    def tap(self, user_id, data, params=None):
        self.platform.webhook_url = self.url
        assert self.platform.send_postback(user_id, data, params) == 200
        self.timer.settle()

    def advance(self, seconds=0.0, **kwargs):
        self.timer.advance(seconds + kwargs.get("minutes", 0) * 60 + kwargs.get("hours", 0) * 3600)

    def last_reply(self, user_id):
        replies = [r for r in self.platform.replies if r.to == user_id]
        assert replies, f"no reply to {user_id}"
        return replies[-1].texts

    def pushes(self, user_id):
        return [p for p in self.platform.pushes if p.to == user_id]

    def pushed_texts(self, user_id):
        return [p.texts[0] for p in self.pushes(user_id)]

    def gaps(self, user_id):
        """Whole seconds between one push to the user and the next."""
        times = [p.at for p in self.pushes(user_id)]
        return [round(b - a) for a, b in zip(times, times[1:])]


# Every ask of a day nobody answers, with the defaults: the first and ten re-asks.
WHOLE_DAY = ["飲んだ?"] + ["飲んだ" + "?" * (k + 1) for k in range(1, 11)]


@pytest.fixture
def frozen():
    with freeze_time(TOKYO_MORNING) as frozen_time:
        yield frozen_time


@pytest.fixture
def make_bot(store, request, platform, frozen):
    """The first bot uses the `store` fixture; each further one (another process on the same
    Redis) has a connection and a Store of its own. `outbox_options` go to its LineOutbox,
    the rest to its settings."""
    bots, clients = [], []

    def make(outbox_options=None, **overrides):
        bot_store = store
        if bots:
            clients.append(connect_like(store, request))
            bot_store = Store(clients[-1])
        bot = Bot(bot_store, platform, frozen, make_settings(**overrides),
                  outbox_options).start()
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.stop()
    for client in clients:
        client.close()


@pytest.fixture
def bot(make_bot):
    return make_bot()


@pytest.fixture
def user_id():
    return new_user_id()
