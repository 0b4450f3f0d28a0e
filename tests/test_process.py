"""The real server (`python web.py`) as a process: SIGKILL, SIGTERM, two at once.
Real time here: a short snooze interval and users stored with a first ask due in a moment."""
import os
import signal
import time
from collections import Counter

import pytest

from bench import records
from bench.procs import SECRET, TOKEN, BotProcess
from simulator.platform import LinePlatform

INTERVAL = 0.5
MAX_REASKS = 4
ASKS_PER_USER = 1 + MAX_REASKS


@pytest.fixture
def line():
    platform = LinePlatform(channel_secret=SECRET, channel_token=TOKEN).start()
    yield platform
    platform.stop()


@pytest.fixture
def processes(redis_server, line):
    started = []

    def start(*names, lease=2):
        """Start one bot per name at once; returns them once every one is healthy."""
        bots = [BotProcess(redis_server.url, line.base_url, log_name=f"test-{name}",
                           SNOOZE_INTERVAL_SECONDS=INTERVAL, MAX_REASKS=MAX_REASKS,
                           PUSH_LEASE_SECONDS=lease, DUE_LEASE_SECONDS=INTERVAL,
                           SCHEDULER_POLL_SECONDS=INTERVAL / 5).start()
                for name in names or ("bot",)]
        started.extend(bots)
        for bot in bots:
            bot.wait_healthy(timeout=30, interval=0.05)
        return bots[0] if len(bots) == 1 else bots

    yield start
    for bot in started:
        bot.stop()


def seed_users(redis_client, count, due_in=1.0):
    due = time.time() + due_in
    user_ids = list(records.ids(count))
    records.write(redis_client, (records.first_ask_record(uid, due) for uid in user_ids))
    return user_ids


def assert_each_ask_once(line, user_ids):
    seen = Counter((push.to, push.texts) for push in line.pushes)
    expected = {(uid, ("飲んだ" + "?" * (k + 1),)) for uid in user_ids for k in range(ASKS_PER_USER)}
    assert set(seen) == expected, "asks lost or unexpected"
    assert max(seen.values()) == 1, "an ask was shown twice"


def assert_spacing_kept(line, user_ids):
    for uid in user_ids:
        times = sorted(push.at for push in line.pushes if push.to == uid)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Delivery latency varies a little; a burst of catch-ups would show gaps near zero.
        assert min(gaps) >= INTERVAL * 0.5, f"re-asks came in a burst: {gaps}"


def assert_asked_on_time(line, user_ids, first_due, cut_at=None, lease=0.0):
    """Each user's first ask within a second of `first_due`, each next one an interval after
    the one before; an ask in flight at `cut_at` (a kill) may also wait out `lease`."""
    for uid in user_ids:
        times = sorted(push.at for push in line.pushes if push.to == uid)
        assert times[0] - first_due <= 1.0, "the first ask came late"
        for before, after in zip(times, times[1:]):
            cut_off = cut_at is not None and before <= cut_at <= after
            assert INTERVAL * 0.9 <= after - before <= INTERVAL + 1.0 + (lease if cut_off else 0)


def all_asks_sent(count):
    return lambda platform: len(platform.pushes) >= count * ASKS_PER_USER


def test_sigkill_then_sigterm_mid_re_asks_each_ask_seen_once(processes, line, redis_client):
    user_ids = seed_users(redis_client, 20)
    bot = processes("kill")
    line.wait_for(lambda p: len(p.pushes) >= 20 * 2, timeout=20, what="two asks each")
    os.kill(bot.pid, signal.SIGKILL)
    bot.process.wait()

    bot = processes("after-kill")
    line.wait_for(lambda p: len(p.pushes) >= 20 * 3, timeout=20, what="three asks each")
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(timeout=10) == 0

    processes("after-term")
    line.wait_for(all_asks_sent(20), timeout=30, what="every ask after the restarts")
    assert_each_ask_once(line, user_ids)
    assert_spacing_kept(line, user_ids)


@pytest.mark.parametrize("going, how", [("old", signal.SIGTERM), ("new", signal.SIGKILL)])
def test_two_processes_ask_on_time_and_either_can_go(processes, line, redis_client, going,
                                                     how):
    line.faults.latency = 0.05                   # as LINE's: asks are in flight a while
    lease = 1.0
    due = time.time() + 1.5                      # the two start in well under a second
    user_ids = seed_users(redis_client, 20, due_in=1.5)
    old, new = processes("old-dyno", "new-dyno", lease=lease)
    both_up = time.time()
    line.wait_for(lambda p: len(p.pushes) >= 20 * 2, timeout=20, what="two asks each")
    gone = old if going == "old" else new
    went_at = time.time()
    os.kill(gone.pid, how)
    gone.process.wait(timeout=10)
    line.wait_for(all_asks_sent(20), timeout=30, what="every ask after one went")
    assert_each_ask_once(line, user_ids)
    # Only an ask that a SIGKILL cut off in flight waits for the dead one's lease.
    assert_asked_on_time(line, user_ids, max(due, both_up),
                         went_at if how == signal.SIGKILL else None, lease)


def test_several_workers_share_the_users_and_a_killed_one_is_replaced(redis_server, line,
                                                                      redis_client):
    """gunicorn, as the Procfile runs it: two worker processes on one Redis."""
    line.faults.latency = 0.05
    due = time.time() + 2.0
    user_ids = seed_users(redis_client, 30, due_in=2.0)
    bot = BotProcess(redis_server.url, line.base_url, log_name="test-workers", workers=2,
                     SNOOZE_INTERVAL_SECONDS=INTERVAL, MAX_REASKS=MAX_REASKS,
                     PUSH_LEASE_SECONDS=1.0, DUE_LEASE_SECONDS=INTERVAL,
                     SCHEDULER_POLL_SECONDS=INTERVAL / 5).start()
    try:
        bot.wait_healthy(timeout=30, interval=0.05)
        up = time.time()
        line.wait_for(lambda p: len(p.pushes) >= 30 * 2, timeout=20, what="two asks each")
        killed_at = time.time()
        os.kill(bot.worker_pids()[0], signal.SIGKILL)   # the master starts another
        line.wait_for(all_asks_sent(30), timeout=30, what="every ask after a worker died")
        assert_each_ask_once(line, user_ids)
        assert_asked_on_time(line, user_ids, max(due, up), killed_at, lease=1.0)
        # Any worker answers any user.
        line.webhook_url = f"http://127.0.0.1:{bot.port}/callback"
        for uid in user_ids[:10]:
            assert line.send_text(uid, "設定教えて") == 200
        line.wait_for(lambda p: len(p.replies) >= 10, timeout=10, what="ten replies")
        assert all(reply.texts[0].endswith("に設定されています") for reply in line.replies)
        assert len(bot.worker_pids()) == 2
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(timeout=30) == 0
    finally:
        bot.stop()
