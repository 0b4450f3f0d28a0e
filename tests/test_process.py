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

    def start(name="bot"):
        bot = BotProcess(redis_server.url, line.base_url, log_name=f"test-{name}",
                         SNOOZE_INTERVAL_SECONDS=INTERVAL, MAX_REASKS=MAX_REASKS,
                         PUSH_LEASE_SECONDS=2).start()
        started.append(bot)
        bot.wait_healthy(timeout=30, interval=0.05)
        return bot

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


def test_two_processes_on_one_redis(processes, line, redis_client):
    user_ids = seed_users(redis_client, 20, due_in=2.0)
    processes("old-dyno")
    processes("new-dyno")
    line.wait_for(all_asks_sent(20), timeout=30, what="every ask")
    assert_each_ask_once(line, user_ids)
