"""The actor system: a registry of compact user records, the user actors that are awake,
and the snooze dispatcher. `tell(user_id, message)` wakes (or creates) the user's actor."""
import gc
import itertools
import logging
import uuid
from datetime import datetime

from gevent.event import Event

from actors.asks import AskBatcher
from actors.base import Activity
from actors.dispatcher import SnoozeDispatcher
from actors.notices import Notices
from actors.user import UserActor
from domain.rounds import Rules
from domain.user import UserRecord
from domain.wallclock import zone
from storage.usage import Usage
from storage.watches import Watches

log = logging.getLogger(__name__)

# Due users handled at once: enough to fill several multicasts of 500 while others are sent,
# few enough that a 100k burst does not park 100k greenlets (memory) at once.
MAX_WAKING = 2000


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
        self.records = {}   # user id -> UserRecord, for every known user
        self.awake = {}     # user id -> UserActor, only while it has work
        self.token = uuid.uuid4().hex   # this process, in the leases it holds
        self.watches = Watches(store.redis)
        self.usage = Usage(store.redis)
        self.notices = Notices(outbox, self.usage, timer, settings.timezone)
        self.asks = AskBatcher(store, outbox, settings.push_lease_seconds,
                               on_delivered=self.notices.count)
        self.dispatcher = SnoozeDispatcher(timer, self.activity, self.records, self.tell,
                                           max_waking=MAX_WAKING)
        self.ready = Event()

    def restore(self) -> int:
        """Load every stored user and every pending due time; start the dispatcher."""
        entries = []
        # Records hold no reference cycles: collecting while 100k of them are built only
        # costs time, and once loaded they are frozen out of every later collection.
        gc.disable()
        try:
            for record in self.store.load_all():
                self.records[record.user_id] = record
                due = record.due
                if due is not None:
                    entries.append((due, record.user_id))
            self.dispatcher.load(entries)
        finally:
            gc.enable()
        gc.freeze()
        self.dispatcher.start()
        self.ready.set()
        log.info("restored %d users, %d pending due times", len(self.records), len(entries))
        return len(self.records)

    def tell(self, user_id: str, message) -> None:
        self._actor(user_id).tell(message)

    def ask(self, user_id: str, message):
        return self._actor(user_id).ask(message)

    def _actor(self, user_id):
        actor = self.awake.get(user_id)
        if actor is None:
            record = self.records.get(user_id)
            if record is None:
                record = self.records[user_id] = UserRecord(user_id)
            actor = self.awake[user_id] = UserActor(record, self)
        return actor

    def actor_idle(self, actor) -> None:
        """An actor's mailbox ran dry: let it hibernate (no greenlet, just its record)."""
        user_id = actor.user_id
        if self.awake.get(user_id) is actor:
            del self.awake[user_id]
        record = self.records.get(user_id)
        if record is not None and not record.has_time and record.version == 0:
            del self.records[user_id]  # nothing stored: nothing to remember

    def this_month(self, user_ids) -> dict:
        """For /debug, read from Redis: pushes LINE took this month per user, each user's
        watchers, and how many of the month's pushes were watch alerts."""
        month = _month(self.timer.now(), self.settings.timezone)
        user_ids = list(user_ids)
        return {"pushes": self.usage.pushes(month, user_ids),
                "watchers": {user_id: len(self.watches.watchers(user_id))
                             for user_id in user_ids},
                "watch_alerts": self.usage.alerts(month)}

    def wait_quiet(self, timeout=None) -> bool:
        return self.activity.wait_quiet(timeout)

    def stop(self, timeout: float) -> bool:
        """Stop firing due times, let in-flight work finish (bounded), then stop every actor."""
        self.dispatcher.stop()
        quiet = self.wait_quiet(timeout)
        for actor in list(self.awake.values()):
            actor.stop()
        return quiet

    def snapshot(self, limit: int = 1000) -> dict:
        """What /debug shows: every actor's state (each time and its round) and the
        dispatcher's queue."""
        users = []
        # No greenlet switch happens inside this loop, so the dict cannot change under it.
        for user_id, record in itertools.islice(self.records.items(), limit):
            actor = self.awake.get(user_id)
            users.append({
                "user": user_id, "tz": record.tz or self.settings.timezone,
                "times": [_round_snapshot(round) for round in record.rounds],
                "next_due": record.due, "awake": actor is not None,
                "mailbox": len(actor.mailbox) if actor is not None else 0,
            })
        return {
            "users": users, "user_count": len(self.records), "awake_count": len(self.awake),
            "dispatcher": {"queued": len(self.dispatcher),
                           "next": [{"due": due, "user": user_id}
                                    for due, user_id in self.dispatcher.pending()]},
            "outbox": {"quota_exhausted": self.outbox.quota_exhausted,
                       "in_flight": self.outbox.in_flight, "asks_waiting": self.asks.waiting},
        }


def _month(at: float, timezone: str) -> str:
    return datetime.fromtimestamp(at, zone(timezone)).strftime("%Y-%m")


def _round_snapshot(round) -> dict:
    return {"time": f"{round.hour}:{round.minute:02d}", "day": round.day,
            "round": None if round.state is None else round.state.value, "asks": round.asks,
            "reasks_sent": max(0, round.asks - 1), "answered_at": round.answered_at,
            "next_due": round.due}
