"""A gunicorn worker told to stop drains once: its actor system is stopped by the drain
(wsgi._drain_when_told), and the worker's exit then only waits for that and closes."""
import gevent
from gevent.event import Event

import wsgi


class FakeSystem:
    def __init__(self):
        self.stops = []

    def stop(self, timeout):
        self.stops.append(timeout)
        return True


class FakeRuntime:
    def __init__(self, grace):
        self.system = FakeSystem()
        self.settings = type("Settings", (), {"shutdown_grace_seconds": grace})()
        self.closed = self.stopped = 0

    def close(self):
        self.closed += 1

    def stop(self):
        self.stopped += 1
        return self.system.stop(timeout=self.settings.shutdown_grace_seconds)


def test_a_worker_told_to_stop_stops_its_actors_once_and_then_closes(monkeypatch):
    runtime, told = FakeRuntime(grace=9.0), Event()
    monkeypatch.setattr(wsgi, "STOP_CHECK_SECONDS", 0)
    monkeypatch.setattr(wsgi, "_running", {
        "runtime": runtime, "start": gevent.spawn(gevent.sleep, 60),
        "watch": gevent.spawn(wsgi._drain_when_told, runtime, lambda: not told.is_set())})
    told.set()                                   # gunicorn's SIGTERM: worker.alive is False
    wsgi.stop_worker()
    assert runtime.system.stops == [9.0]         # the drain's stop, not a second one
    assert (runtime.closed, runtime.stopped) == (1, 0)
