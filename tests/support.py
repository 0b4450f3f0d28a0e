"""Test doubles for time, and small helpers shared by the test files."""
import socket
import uuid
from collections import Counter
from datetime import datetime, timezone

import gevent
from gevent.queue import Empty
from gevent.server import StreamServer
from redis.cluster import RedisCluster

from domain.rounds import DUE_TOLERANCE
from simulator.line_api import MULTICAST_PATH, PUSH_PATH
from storage import keys
from webhook_events import from_sdk


def new_user_id() -> str:
    """A LINE-shaped user id nobody else in the test run has."""
    return "U" + uuid.uuid4().hex


def sdk_reading(raw):
    """What line-bot-sdk's models make of one event dict (whose "type" is a str): None for a
    type they do not know, "invalid" when they refuse it, else the event as webhook_events'
    classes."""
    from linebot.v3 import webhooks as sdk

    if sdk.Event.get_discriminator_value(raw) is None:
        return None
    content = raw.get("message")
    if (raw["type"] == "message" and isinstance(content, dict)
            and isinstance(content.get("type"), str)
            and sdk.MessageContent.get_discriminator_value(content) is None):
        return None
    try:
        return from_sdk(sdk.Event.from_dict(raw))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return "invalid"


def asks_seen_once(bot) -> bool:
    """No user was shown the same ask text twice."""
    counts = Counter((p.to, p.texts) for p in bot.platform.pushes)
    return all(count == 1 for count in counts.values())


def let_the_dead_senders_lease_run_out(bot) -> None:
    """Leases (on asks, on alerts) expire on Redis's real clock, which the manual timer does
    not move."""
    client = bot.store.redis
    leases = all_keys(client, "usa:*batch:*:lease") + all_keys(client, "usa:*alert:*")
    if leases:
        client.delete(*leases)


def all_keys(client, pattern) -> list:
    """KEYS on one Redis, or on every master of a cluster."""
    if isinstance(client, RedisCluster):
        return client.keys(pattern, target_nodes=RedisCluster.PRIMARIES)
    return client.keys(pattern)


def send_statuses(platform) -> list:
    """The statuses of the push and multicast requests the stand-in answered, in order."""
    return [r.status for r in platform.requests if r.path in (PUSH_PATH, MULTICAST_PATH)]


def send_paths(platform) -> list:
    """The paths of the push and multicast requests the stand-in answered, in order."""
    return [r.path for r in platform.requests if r.path in (PUSH_PATH, MULTICAST_PATH)]


def crowd(bot, n=3, time="6時10分"):
    """n users (fixed ids, in order) who each set `time`."""
    users = [f"U{i:032x}" for i in range(n)]
    for user in users:
        bot.say(user, time)
    return users


def watched_by(bot, watcher, names):
    """Each user of `names` (user id -> display name) shows that name and is watched by
    `watcher` (the code they get from 見守り, sent by the watcher)."""
    for user, name in names.items():
        bot.platform.profiles[user] = {"displayName": name}
        bot.say(user, "見守り")
        bot.say(watcher, bot.last_reply(user)[0].split("\n")[0].split(": ")[1])


def edit_record(bot, user_id, edit) -> bytes:
    """Replace the user's stored record by `edit(stored bytes)`, as a hand edit or another
    version would; returns the record as it was."""
    key = keys.ONE_REDIS.user(user_id)
    stored = bot.store.redis.get(key)
    bot.store.redis.set(key, edit(stored))
    return stored


def count_calls(monkeypatch, owner, name) -> list:
    """Every call of owner.name from now on (its positional arguments), passed through."""
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


class _Wake:
    __slots__ = ("token",)

    def __init__(self, token):
        self.token = token


class ManualTimer:
    """"now" is freezegun's clock; "wait until due" blocks until `advance` reaches the
    deadline. `advance` moves frozen time to each deadline in order and lets the woken actors
    finish (Activity) before going on, so days pass in milliseconds and nothing sleeps."""

    def __init__(self, frozen, activity):
        self.frozen = frozen
        self.activity = activity
        self._waiters = {}  # token -> (deadline, mailbox)

    def now(self) -> float:
        import time
        return time.time()

    def wait(self, mailbox, deadline):
        if deadline is not None and deadline <= self.now() + DUE_TOLERANCE:
            while True:
                try:
                    item = mailbox.get_nowait()
                except Empty:
                    # Timed work due already: it counts as activity until done (the actor's
                    # loop ends it), so that settle() waits for it as for a message.
                    self.activity.begin()
                    return _Wake(None)
                if not isinstance(item, _Wake):
                    return item
                self.activity.end()  # a wake meant for an earlier wait
        token = object()
        if deadline is not None:
            self._waiters[token] = (deadline, mailbox)
        try:
            while True:
                item = mailbox.get()
                if not isinstance(item, _Wake) or item.token is token:
                    return item
                self.activity.end()
        finally:
            self._waiters.pop(token, None)

    def settle(self, timeout=10.0):
        """Return once every mailbox item is handled and every greenlet that was just spawned
        (a freshly started scheduler) has reached its wait. Quiet only counts when it lasts:
        an actor that ends one item and at once finds timed work due (a due time its last
        message set) is busy again before the waiter runs."""
        while True:
            gevent.idle()
            assert self.activity.wait_quiet(timeout), "actors did not go quiet"
            gevent.idle()
            if self.activity.pending == 0:
                return

    def advance(self, seconds: float) -> None:
        advance_together([self], seconds)

    def _first_due(self, target: float):
        return min((deadline for deadline, _ in self._waiters.values() if deadline <= target),
                   default=None)

    def _wake_due(self) -> None:
        now = self.now() + DUE_TOLERANCE
        for token, (deadline, mailbox) in list(self._waiters.items()):
            if deadline <= now:
                del self._waiters[token]
                self.activity.begin()
                mailbox.put(_Wake(token))

    def _move_to(self, epoch: float) -> None:
        if epoch <= self.now():
            return
        micros = round(epoch * 1_000_000)  # freezegun's resolution
        moment = datetime.fromtimestamp(micros // 1_000_000, timezone.utc).replace(
            microsecond=micros % 1_000_000, tzinfo=None)
        self.frozen.move_to(moment)


def advance_together(timers, seconds: float) -> None:
    """Advance the shared frozen clock for several bots (processes) at once: at each due
    time every bot's due waiters wake together, as two processes' timers would."""
    clock = timers[0]
    target = clock.now() + seconds
    while True:
        for timer in timers:
            timer.settle()
        due = [when for when in (timer._first_due(target) for timer in timers) if when is not None]
        if not due:
            break
        clock._move_to(min(due))
        for timer in timers:
            timer._wake_due()
    clock._move_to(target)
    for timer in timers:
        timer.settle()


class RedisLink:
    """A TCP relay in front of Redis that can be cut, as a Redis restart or failover cuts a
    client off: live connections drop and new ones are closed at once until `restore()`."""

    def __init__(self, redis_port: int):
        self._target = ("127.0.0.1", redis_port)
        self._sockets = set()
        self.cut_off = False
        self._server = StreamServer(("127.0.0.1", 0), self._relay)

    def start(self) -> "RedisLink":
        self._server.start()
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.server_port}/0"

    def cut(self) -> None:
        self.cut_off = True
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        self.cut_off = False

    def stop(self) -> None:
        self.cut()
        self._server.stop(timeout=1)

    def _relay(self, client, _address):
        if self.cut_off:
            client.close()
            return
        upstream = socket.create_connection(self._target)
        pair = (client, upstream)
        self._sockets.update(pair)
        try:
            gevent.joinall([gevent.spawn(_pipe, client, upstream),
                            gevent.spawn(_pipe, upstream, client)], count=1)
        finally:
            for sock in pair:
                self._sockets.discard(sock)
                sock.close()


def _pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
