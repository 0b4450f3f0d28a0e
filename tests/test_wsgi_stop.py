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
    runtime, told, looked = FakeRuntime(grace=9.0), Event(), Event()
    monkeypatch.setattr(wsgi, "STOP_CHECK_SECONDS", 0)
    starting = gevent.spawn(gevent.sleep, 60)

    def serving():
        looked.set()
        return not told.is_set()

    monkeypatch.setattr(wsgi, "_running", {
        "runtime": runtime, "start": starting, "serving": serving,
        "watch": gevent.spawn(wsgi._drain_when_told, runtime, serving)})
    assert looked.wait(5)
    assert runtime.system.stops == []            # serving: the drain only watches
    told.set()                                   # gunicorn's SIGTERM: worker.alive is False
    wsgi.stop_worker()
    assert runtime.system.stops == [9.0]         # the drain's stop, not a second one
    assert (runtime.closed, runtime.stopped) == (1, 0)
    assert starting.dead


def test_a_worker_that_ends_while_still_serving_stops_at_once(monkeypatch):
    # gunicorn's worker exits without being told to stop (its master went away, a crash):
    # nothing drains, so nothing is waited for; the actors are stopped here, once.
    runtime = FakeRuntime(grace=3600.0)
    monkeypatch.setattr(wsgi, "_running", {
        "runtime": runtime, "start": gevent.spawn(gevent.sleep, 60), "serving": lambda: True,
        "watch": gevent.spawn(wsgi._drain_when_told, runtime, lambda: True)})
    with gevent.Timeout(10):                     # not the hour of grace
        wsgi.stop_worker()
    assert runtime.system.stops == [3600.0]
    assert (runtime.closed, runtime.stopped) == (0, 1)
