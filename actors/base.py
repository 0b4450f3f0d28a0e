"""A minimal actor on gevent: a mailbox, a greenlet that runs only while there is work, and
`tell` (never blocks)."""
import logging
from collections import deque

import gevent
from gevent.event import Event
from gevent.queue import Queue

from actors.timer import TIMED_OUT

log = logging.getLogger(__name__)


class Activity:
    """Counts mailbox items not yet handled, system-wide, so that tests and a graceful stop
    can wait until every actor is quiet instead of sleeping."""

    def __init__(self):
        self.pending = 0
        self._quiet = Event()
        self._quiet.set()

    def begin(self):
        self.pending += 1
        self._quiet.clear()

    def end(self):
        self.pending -= 1
        if self.pending == 0:
            self._quiet.set()

    def wait_quiet(self, timeout=None) -> bool:
        return self._quiet.wait(timeout)


class Actor:
    """Subclasses implement `on_receive`; optionally `next_deadline`/`on_timeout` (timed work),
    `on_failure` (restart policy) and `on_idle` (called when the greenlet ends).

    With `hibernates = True` the greenlet ends as soon as the mailbox is empty; the next
    message starts a new one. A crash in `on_receive` goes to `on_failure`; after
    `max_restarts` failures within `restart_window` seconds the rest of the mailbox is dropped
    and the actor goes idle until the next message.
    """

    hibernates = False
    max_restarts = 3
    restart_window = 60.0

    def __init__(self, timer, activity: Activity):
        self.timer = timer
        self.activity = activity
        self.mailbox = Queue()
        self._greenlet = None
        self._stopped = False
        self._failures = deque()

    # -- public ------------------------------------------------------------------------
    def tell(self, message) -> None:
        if self._stopped:
            return
        self.activity.begin()
        self.mailbox.put(_Message(message))
        self.start()

    def start(self):
        if self._greenlet is None and not self._stopped:
            self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self):
        """Drop the queued messages and end the greenlet (a graceful stop waits for quiet
        first)."""
        self._stopped = True
        self._drop_mailbox()
        if self._greenlet is not None and self._greenlet is not gevent.getcurrent():
            self._greenlet.kill(block=False)

    # -- hooks -------------------------------------------------------------------------
    def on_receive(self, message):
        raise NotImplementedError

    def next_deadline(self):
        return None

    def on_timeout(self):
        pass

    def on_failure(self, exc, message):
        log.exception("%s failed handling %s", type(self).__name__, type(message).__name__,
                      exc_info=exc)

    def on_idle(self):
        pass

    def on_dropped(self, message):
        """A queued message was dropped unhandled (stop, or too many failures)."""

    # -- loop --------------------------------------------------------------------------
    def _loop(self):
        try:
            while not self._stopped:
                if self.hibernates and self.mailbox.empty():
                    break
                item = self.timer.wait(self.mailbox, self.next_deadline())
                try:
                    if type(item) is _Message:
                        self._guarded(self.on_receive, item.message)
                    else:
                        self._guarded(self.on_timeout)
                finally:
                    if item is not TIMED_OUT:
                        self.activity.end()
        finally:
            self._greenlet = None
            self.on_idle()

    def _guarded(self, handler, *message):
        try:
            handler(*message)
        except Exception as exc:
            self._failed(exc, message[0] if message else None)

    def _failed(self, exc, message):
        now = self.timer.now()
        self._failures.append(now)
        while self._failures and self._failures[0] < now - self.restart_window:
            self._failures.popleft()
        self.on_failure(exc, message)
        if len(self._failures) > self.max_restarts:
            log.error("%s failed %d times in %.0f s; dropping its mailbox", type(self).__name__,
                      len(self._failures), self.restart_window)
            self._failures.clear()
            self._drop_mailbox()

    def _drop_mailbox(self):
        while not self.mailbox.empty():
            item = self.mailbox.get_nowait()
            if type(item) is _Message:
                self.on_dropped(item.message)
            self.activity.end()


class _Message:
    """A message in a mailbox (a mailbox also holds the timer's wake-ups)."""
    __slots__ = ("message",)

    def __init__(self, message):
        self.message = message
