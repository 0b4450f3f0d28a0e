"""Wakes whoever waits when a stand-in records something new; `wait_for` re-checks a
condition on each change. Deadlines use the real monotonic clock: tests freeze the other."""
import gevent.event

from outbox.clock import real_seconds


class Changes:
    def __init__(self):
        self.event = gevent.event.Event()  # set (and replaced) at the next change

    def notify(self) -> None:
        changed, self.event = self.event, gevent.event.Event()
        changed.set()

    def wait_for(self, check, timeout: float, describe):
        """Block until `check()` is truthy and return it; AssertionError(describe()) after
        `timeout` seconds."""
        deadline = real_seconds() + timeout
        while True:
            changed = self.event
            value = check()
            if value:
                return value
            remaining = deadline - real_seconds()
            if remaining <= 0:
                raise AssertionError(describe())
            changed.wait(remaining)
