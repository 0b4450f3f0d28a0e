"""The actor system: the user actors that are awake, and the scheduler that wakes them when
they are due. `tell(user_id, message)` wakes (or creates) the user's actor. Users asleep cost
this process nothing: their records and due times are in Redis."""
import itertools
import logging
import uuid
from typing import Optional

import gevent
from gevent.event import Event

from actors.asks import AskBatcher
from actors.base import Activity
from actors.inbox import Inbox
from actors.messages import ReminderDue
from actors.notices import Notices
from actors.scheduler import Scheduler
from actors.together import DueTogether
from actors.user import UserActor
from domain.rounds import Rules
from domain.wallclock import month_of, zone
from storage.outage import StorageUnavailable

log = logging.getLogger(__name__)

# Due users handled at once: enough to fill several multicasts of 500 while others are sent,
# few enough that a 100k burst does not park 100k greenlets (memory) at once.
MAX_WAKING = 2000
# A process's heartbeat: renewed every second, gone this long after the process stops. A
# batch of asks held by a process without one is resent at once.
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL_SECONDS = 5.0
START_RETRY_SECONDS = 1.0


class ActorSystem:
    def __init__(self, settings, store, outbox, timer, activity=None):
        self.settings = settings
        self.store = store
        self.outbox = outbox
        self.timer = timer
        self.activity = activity or Activity()
        self.rules = Rules(snooze_interval=settings.snooze_interval_seconds,
                           max_reasks=settings.max_reasks,
                           grace=settings.missed_ask_grace_seconds)
        self.awake = {}     # user id -> UserActor, only while it has work
        self.failures = {}  # user id -> handlings failed in a row (see UserActor.on_failure)
        self.token = store.token = uuid.uuid4().hex   # this process (this start), in its leases
        self.watches = store.watches
        self.usage = store.usage
        self.notices = Notices(outbox, self.usage, timer, settings.timezone)
        self.asks = AskBatcher(store.batches, outbox, timer.now, settings.push_lease_seconds,
                               on_delivered=self._count_soon)
        self.together = DueTogether(self)
        self.inbox = Inbox(self)
        self.scheduler = Scheduler(timer, self.activity, store, self.together.wake,
                                   lease=settings.due_lease_seconds,
                                   poll=settings.scheduler_poll_seconds, max_waking=MAX_WAKING)
        self.ready = Event()
        self._helpers = []

    def start(self) -> int:
        """Start: import the Go bot's users and index the due times of users stored before
        the index existed (each once), then the heartbeat, the look for webhook events left
        behind by stopped processes, and the scheduler. With Redis away
        (a restart, a failover) each step is tried again every second until Redis is back.
        Returns how many users have a due time."""
        _until_redis_answers(self._once)
        self._helpers = [gevent.spawn(self._beat), gevent.spawn(self.inbox.sweep_forever)]
        self.scheduler.start()
        self.ready.set()
        _, due = _until_redis_answers(lambda: self.store.due.head(0))
        log.info("ready: %d users with a due time", due)
        return due

    def _once(self) -> None:
        store = self.store
        store.processes.heartbeat(self.token, HEARTBEAT_TTL_SECONDS)
        imported = store.go_import.run(self.settings.timezone)
        if imported:
            log.info("imported %d users from the Go bot's keys", imported)
        indexed = store.due.build_once(store.users)
        if indexed is not None:
            log.info("indexed the due times of %d stored users", indexed)

    def tell(self, user_id: str, message) -> None:
        self._actor(user_id).tell(message)

    def take_in(self, event_id: Optional[str], user_id: str, message) -> str:
        """A webhook event's message for the user's actor, kept in Redis until handled
        (actors/inbox.py); returns what became of it."""
        return self.inbox.take_in(event_id, user_id, message)

    def actor_for(self, user_id: str, record=None):
        """The user's actor, woken (with `record`, as just read, when it was asleep)."""
        return self._actor(user_id, record)

    def wake(self, user_id: str, record) -> None:
        """The user is due and their actor is to handle it (`record`: as just loaded, or
        None). Users due together are woken through `together` first."""
        self._actor(user_id, record).tell(ReminderDue())

    def _actor(self, user_id, record=None):
        actor = self.awake.get(user_id)
        if actor is None:
            actor = self.awake[user_id] = UserActor(user_id, record, self)
        return actor

    def _count_soon(self, user_ids) -> None:
        """Count pushes LINE took, from a greenlet of its own (a graceful stop waits)."""
        self.activity.begin()
        gevent.spawn(self._count, user_ids)

    def _count(self, user_ids) -> None:
        try:
            self.notices.count(user_ids)
        finally:
            self.activity.end()

    def actor_idle(self, actor) -> None:
        """An actor's mailbox ran dry: it goes (its user's state is in Redis)."""
        if self.awake.get(actor.user_id) is actor:
            del self.awake[actor.user_id]

    def wait_quiet(self, timeout=None) -> bool:
        return self.activity.wait_quiet(timeout)

    def stop(self, timeout: float) -> bool:
        """Stop waking users, let in-flight work finish (bounded), then stop every actor."""
        self.scheduler.stop()
        quiet = self.wait_quiet(timeout)
        self.together.stop()
        for actor in list(self.awake.values()):
            actor.stop()
        for helper in self._helpers:
            helper.kill(block=False)
        return quiet

    def _beat(self):
        while True:
            gevent.sleep(HEARTBEAT_SECONDS)
            try:
                self.store.processes.heartbeat(self.token, HEARTBEAT_TTL_SECONDS)
            except StorageUnavailable:
                pass  # the store logs the outage

    def snapshot(self, limit: int = 50) -> dict:
        """What /debug shows: the users due next (each time and its round), the actors awake,
        and the due index. Reads Redis."""
        head, indexed = self.store.due.head(limit)
        awake = list(itertools.islice(self.awake, limit))
        shown = list(dict.fromkeys([user_id for user_id, _ in head] + awake))
        users = []
        for user_id, record in zip(shown, self.store.users.load_many(shown)):
            if record is None:
                continue
            actor = self.awake.get(user_id)
            users.append({
                "user": user_id, "tz": record.tz or self.settings.timezone,
                "times": [_dose_snapshot(dose) for dose in record.doses],
                "next_due": record.due, "awake": actor is not None,
                "mailbox": len(actor.mailbox) if actor is not None else 0,
            })
        return {
            "users": users, "awake_count": len(self.awake),
            "due": {"count": indexed,
                    "next": [{"due": due, "user": user_id} for user_id, due in head]},
            "outbox": {"quota_exhausted": self.outbox.quota_exhausted,
                       "in_flight": self.outbox.in_flight, "asks_waiting": self.asks.waiting,
                       "replies_owed": self.outbox.backlog.owed},
        }

    def this_month(self, user_ids) -> dict:
        """For /debug, read from Redis: pushes LINE took this month per user, each user's
        watchers, and how many of the month's pushes were watch alerts."""
        month = month_of(self.timer.now(), zone(self.settings.timezone))
        user_ids = list(user_ids)
        return {"pushes": self.usage.pushes(month, user_ids),
                "watchers": {user_id: len(watchers) for user_id, watchers
                             in self.watches.watchers_of_many(user_ids).items()},
                "watch_alerts": self.usage.alerts(month)}


def _until_redis_answers(call):
    while True:
        try:
            return call()
        except StorageUnavailable:  # the store logs the outage, once
            gevent.sleep(START_RETRY_SECONDS)


def _dose_snapshot(dose) -> dict:
    return {"time": f"{dose.hour}:{dose.minute:02d}", "day": dose.day,
            "round": None if dose.state is None else dose.state.value, "asks": dose.asks,
            "reasks_sent": max(0, dose.asks - 1), "answered_at": dose.answered_at,
            "next_due": dose.due}
