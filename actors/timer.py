"""The one injected source of time: "now" and "wait for a message or until due"."""
import time

from gevent.queue import Empty

TIMED_OUT = object()


class Timer:
    """Production timer: the wall clock and a mailbox get with a timeout."""

    def now(self) -> float:
        # Looked up at call time so that freezegun (in tests) sees it.
        return time.time()

    def wait(self, mailbox, deadline):
        """Next mailbox item, or TIMED_OUT once `deadline` (epoch seconds) has passed."""
        if deadline is None:
            return mailbox.get()
        try:
            return mailbox.get(timeout=max(0.0, deadline - self.now()))
        except Empty:
            return TIMED_OUT
