"""One greenlet that holds every pending due time (first asks and re-asks) in a heap and
tells the owning UserActor when one falls due. Idle users need no greenlet of their own.

At 8:00 thousands of users fall due together. Waking them all at once would only park
thousands of greenlets (memory) in front of the Redis pool and the push pacer, so at most
`max_waking` due users are handled at a time, earliest first; the rest stay in the heap."""
import heapq

from gevent.lock import BoundedSemaphore

from actors.base import Actor
from actors.messages import ReminderDue, ScheduleDue
from domain.rounds import DUE_TOLERANCE


class SnoozeDispatcher(Actor):
    def __init__(self, timer, activity, records, tell_user, max_waking=256):
        super().__init__(timer, activity)
        self._records = records   # user id -> UserRecord (read only here)
        self._tell_user = tell_user  # tell_user(user_id, message)
        self._heap = []
        self._waking = BoundedSemaphore(max_waking)

    def load(self, entries):
        """Bulk-load (due, user_id) pairs before the dispatcher starts."""
        self._heap = list(entries)
        heapq.heapify(self._heap)

    def on_receive(self, message: ScheduleDue):
        heapq.heappush(self._heap, (message.due, message.user_id))

    def next_deadline(self):
        return self._heap[0][0] if self._heap else None

    def on_timeout(self):
        heap = self._heap
        while heap and heap[0][0] <= self.timer.now() + DUE_TOLERANCE:
            due, user_id = heapq.heappop(heap)
            record = self._records.get(user_id)
            # Entries whose user has nothing due by then (answered, rescheduled later,
            # deleted) are dropped here; a spare wake-up is harmless, the actor checks.
            if record is not None and record.due is not None and record.due <= due:
                self._waking.acquire()  # blocks only this greenlet; ScheduleDue waits meanwhile
                self._tell_user(user_id, ReminderDue(due))

    def due_handled(self):
        """A UserActor is done with (or dropped) a ReminderDue: the next one may wake."""
        self._waking.release()

    @property
    def waking(self):
        return self._waking.counter

    def __len__(self):
        return len(self._heap)

    def pending(self, limit=50):
        """The earliest live entries, for /debug."""
        live = (entry for entry in heapq.nsmallest(limit * 4, self._heap)
                if getattr(self._records.get(entry[1]), "due", None) == entry[0])
        return [entry for _, entry in zip(range(limit), live)]
