"""One scheduler per process: finds the users who are due in Redis's due index and wakes
their actors. Due times live in Redis, not in a process, so any process can handle any user
and one that dies leaves nothing only it knew.

Claiming due users moves their scores a lease ahead (storage.store `claim_due`): one process
handles each, the actor's save then sets the real next due time, and if the process dies the
user comes due again when the lease runs out. The scheduler sleeps until the earliest due
time it knows of: the index's head when it last looked, or a due time this process's actors
just set (ScheduleDue); with `poll` set it also looks every `poll` seconds, for what other
processes scheduled.

At 8:00 thousands of users fall due together. Waking them all at once would only park
thousands of greenlets (memory) in front of the Redis pool and the push pacer, so at most
`max_waking` due users are handled at a time; the rest wait in the index.

On Redis Cluster the index is one sorted set per shard (storage/keys.py): the scheduler takes
due users shard by shard, up to `batch` of each shard in turn while any has more, starting
from another shard at each look, so that no shard waits for another's 8:00. Users taken
together are of one shard, and so are the asks batched from them (actors/asks.py)."""
import logging
import math
import sys

from gevent.lock import BoundedSemaphore

from actors.base import Actor
from actors.messages import ScheduleDue
from domain.rounds import DUE_TOLERANCE
from storage.outage import StorageUnavailable

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class Scheduler(Actor):
    max_restarts = sys.maxsize  # it only retries: in a Redis outage, every second until back

    def __init__(self, timer, activity, store, wake, *, lease, poll=None, max_waking=2000,
                 batch=500):
        super().__init__(timer, activity)
        self._store = store
        self._wake = wake              # wake([(user_id, record or None), ...])
        self._poll = poll
        self._batch = batch
        self._lease = lease
        self._waking = BoundedSemaphore(max_waking)
        self._next = None              # the earliest due time known; None: look now,
                                       # math.inf: none (the index was empty)
        self._looked_at = None
        self._looking = False          # in on_timeout: claiming and handing out due users
        self._first_shard = 0          # where the next look starts (Redis Cluster)

    def schedule(self, due: float) -> None:
        """A due time this process just set (and saved). A scheduler waiting for an earlier
        or equal moment finds it then, in the index: only an earlier one needs a message
        (10,000 users setting the same minute wake it once, not 10,000 times). While it is
        looking, a message always goes: what it finds may not include this save."""
        if self._looking or self._next is None or due < self._next:
            self.tell(ScheduleDue(due))

    def on_receive(self, message: ScheduleDue):
        if self._next is None or message.due < self._next:
            self._next = message.due

    def next_deadline(self):
        deadline = self._next if self._next is not None else self.timer.now()
        if self._poll is not None and self._looked_at is not None:
            deadline = min(deadline, self._looked_at + self._poll)
        return None if deadline == math.inf else deadline

    def on_timeout(self):
        self._looking = True
        try:
            self._look()
        finally:
            self._looking = False

    def _look(self):
        now = self.timer.now()
        self._looked_at = now
        due = self._store.due
        shards = list(due.shards)
        if len(shards) == 1:
            while True:
                users, following = due.claim(now + DUE_TOLERANCE, self._lease, self._batch)
                self._next = following if following is not None else math.inf
                self._hand_out(users)
                if len(users) < self._batch:
                    return
        start = self._first_shard = (self._first_shard + 1) % len(shards)
        shards = shards[start:] + shards[:start]
        following_of, failed = {}, False
        while shards:   # a round: up to `batch` of each shard that had more
            more = []
            for shard in shards:
                try:
                    users, following_of[shard] = due.claim(now + DUE_TOLERANCE, self._lease,
                                                           self._batch, shard)
                    self._hand_out(users)
                except StorageUnavailable:  # a failover: the other shards go on
                    failed = True
                    continue
                if len(users) >= self._batch:
                    more.append(shard)
            shards = more
        self._next = min((at for at in following_of.values() if at is not None),
                         default=math.inf)
        if failed:  # the store logs it; that shard is looked at again in a second
            self._next = min(self._next, self.timer.now() + RETRY_SECONDS)

    def _hand_out(self, users):
        waking = []
        for user_id, record in zip(users, self._store.users.load_many(users)):
            if not self._waking.acquire(blocking=False):
                if waking:
                    self._wake(waking)
                    waking = []
                self._waking.acquire()  # blocks only this greenlet; ScheduleDue waits
            waking.append((user_id, record))
        if waking:
            self._wake(waking)

    def on_failure(self, exc, message):
        # Redis away (the store logs it once) or worse: look again in a second, not at once.
        if not isinstance(exc, StorageUnavailable):
            log.error("scheduler failed (%s)", type(exc).__name__, exc_info=exc)
        self._next = self.timer.now() + RETRY_SECONDS

    def due_handled(self):
        """A due user is handled (or their ReminderDue dropped): the next one may wake."""
        self._waking.release()

    @property
    def waking(self):
        return self._waking.counter
