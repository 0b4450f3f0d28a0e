"""Chaos run: N users through a compressed reminder day while the server is killed (SIGKILL)
and restarted K times at random moments. Nobody answers, and everyone is watched by someone,
so every round ends in a watch alert. Prints what the LINE stand-in saw:

    asks lost: X, asks shown twice: Y
    watch alerts lost: X, alerts shown twice: Y
    lateness: ...

    python -m bench.chaos --users 1000 --kills 20
    python -m bench.chaos --processes 2    # two servers on one Redis, killed in turn

With `--processes 2` two servers share the Redis at every moment (a Heroku deploy, all day
long): each kill takes one of them, alternately, and restarts it while the other carries on.
Lateness is each ask's delay past its due time: the seeded time for the first ask, one snooze
interval after the previous ask's delivery for a re-ask.
"""
import argparse
import os
import random
import signal
import time

from bench import records, scenarios, stats
from bench.procs import BotProcess, monotonic
from chat import texts
from storage import keys


def seed(client, users, first_due_within):
    """Users whose first ask falls due at random moments within the next few seconds, each
    watched by one watcher of their own; returns {user id: first due time}."""
    # People choose times on the minute, so many share each one: 30 distinct first-ask
    # moments in the compressed day (asks of rounds that start together share a multicast).
    now = time.time()
    moments = [now + 2 + random.uniform(0, first_due_within) for _ in range(30)]
    due = {uid: random.choice(moments) for uid in records.ids(users)}
    records.write(client, (records.first_ask_record(uid, at) for uid, at in due.items()))
    pipe = client.pipeline(transaction=False)
    for uid in due:
        pipe.sadd(keys.watchers(uid), watcher_of(uid))
        pipe.sadd(keys.watching(watcher_of(uid)), uid)
    pipe.execute()
    return due


WATCHER_PREFIX = "W"   # user ids start with U: a push to W… is a watch alert


def watcher_of(uid):
    return WATCHER_PREFIX + uid[1:]


def alert_tally(pushes, ids):
    """Nobody answers: each user's round ends missed and their watcher is told once."""
    alerts = [(to, text) for to, text, *_ in pushes if to.startswith(WATCHER_PREFIX)]
    expected = {watcher_of(uid) for uid in ids}
    lost = len(expected - {to for to, _ in alerts})
    return lost, stats.duplicates(alerts)


def tally(pushes, ids, asks_per_user):
    pushes = [push for push in pushes if not push[0].startswith(WATCHER_PREFIX)]
    seen = {(to, text) for to, text, *_ in pushes}
    expected = {(uid, texts.ask(k)) for uid in ids for k in range(asks_per_user)}
    lost = len(expected - seen)
    twice = stats.duplicates((to, text) for to, text, *_ in pushes)
    unexpected = len(seen - expected)
    return lost, twice, unexpected


def lateness(pushes, first_due, interval):
    """Each ask's delay past its due time: the first ask's is seeded, a re-ask is due one
    interval after the previous ask arrived at LINE."""
    times = {}
    for to, _, at, _ in pushes:
        if to in first_due:
            times.setdefault(to, []).append(at)
    late = []
    for uid, arrivals in times.items():
        arrivals.sort()
        late.append(arrivals[0] - first_due[uid])
        late.extend(after - before - interval for before, after in zip(arrivals, arrivals[1:]))
    return late


def day_settings(interval, reasks):
    """The bot's settings for a compressed day. The leases are compressed with it: 1 s against
    a 3 s snooze interval (30 s and 5 s against 600 s by default). A process killed while it
    holds asks or due users delays them that long."""
    return dict(SNOOZE_INTERVAL_SECONDS=interval, MAX_REASKS=reasks, PUSH_LEASE_SECONDS=1,
                DUE_LEASE_SECONDS=1)


def expected_pushes(first_due, reasks):
    """Every ask of every user's round, and the alert to their watcher."""
    return len(first_due) * (1 + reasks) + len(first_due)


def report_day(pushes, first_due, reasks, interval):
    """Print what the users and their watchers were shown and how late each ask came;
    returns (nothing lost or doubled, asks later than one snooze interval)."""
    lost, twice, unexpected = tally(pushes, first_due, 1 + reasks)
    alerts_lost, alerts_twice = alert_tally(pushes, first_due)
    late = lateness(pushes, first_due, interval)
    too_late = sum(1 for delay in late if delay > interval)
    print(f"asks lost: {lost}, asks shown twice: {twice}"
          + (f", unexpected asks: {unexpected}" if unexpected else ""))
    print(f"watch alerts lost: {alerts_lost}, alerts shown twice: {alerts_twice}")
    print(f"lateness past due: p50 {stats.fmt_ms(stats.percentile(late, 50))}, "
          f"p99 {stats.fmt_ms(stats.percentile(late, 99))}, "
          f"max {stats.fmt_ms(max(late, default=float('nan')))}; "
          f"later than one snooze interval: {too_late}")
    exact = lost == twice == unexpected == alerts_lost == alerts_twice == 0
    return exact, too_late


def run(users, kills, interval, reasks, seed_value, settle_timeout, processes=1, workers=None,
        service_kills=0, redis_restarts=0):
    random.seed(seed_value)
    with scenarios.environment(0.02, name="chaos-redis",
                               persistent=bool(redis_restarts)) as (redis_server, client, standin):
        first_due = seed(client, users, first_due_within=interval * 3)
        plan = Plan(kills, service_kills, redis_restarts)
        return _kill_and_count(redis_server, standin, first_due, plan, interval, reasks,
                               seed_value, settle_timeout, processes, workers)


class Plan:
    """What happens, in a random order, a random 0.2 s to one interval apart: `kills` SIGKILLs
    (of a process, in turn; or of one gunicorn worker, which the master replaces),
    `service_kills` SIGKILLs of the whole service (every process) and a restart, and
    `redis_restarts` restarts of Redis itself (its append-only file keeps the data)."""

    def __init__(self, kills, service_kills, redis_restarts):
        self.events = ["kill"] * kills + ["service"] * service_kills + ["redis"] * redis_restarts
        random.shuffle(self.events)

    def __str__(self):
        counts = {name: self.events.count(name) for name in ("kill", "service", "redis")}
        return (f"kills: {counts['kill']}, whole-service kills: {counts['service']}, "
                f"Redis restarts: {counts['redis']}")


def _kill_and_count(redis_server, standin, first_due, plan, interval, reasks, seed_value,
                    settle_timeout, processes, workers):
    env = day_settings(interval, reasks)
    if workers:
        processes = 1

    def start(slot):
        return BotProcess(redis_server.url, standin.base_url, log_name=f"chaos-{slot}",
                          workers=workers, **env).start()

    started = monotonic()
    bots = [start(slot) for slot in range(processes)]
    try:
        for bot in bots:
            bot.wait_healthy()
        turn = 0
        for event in plan.events:
            time.sleep(random.uniform(0.2, interval))
            if event == "redis":
                redis_server.stop()
                redis_server.start()
                continue
            slot = turn % processes   # in turn: with two processes, one is always up
            turn += 1
            bot = bots[slot]
            if event == "kill" and workers:
                os.kill(random.choice(bot.worker_pids()), signal.SIGKILL)
                continue
            for pid in bot.pids():
                os.kill(pid, signal.SIGKILL)
            bot.process.wait()
            bots[slot] = start(slot)
            bots[slot].wait_healthy()
        expected = expected_pushes(first_due, reasks)
        scenarios.wait_for_pushes(standin, expected, settle_timeout)
        elapsed = monotonic() - started
        result = standin.records()
    finally:
        for bot in bots:
            bot.stop()
    shape = f"gunicorn with {workers} workers" if workers else f"processes: {processes}"
    print(f"users: {len(first_due)}, {shape}, {plan}, snooze interval: {interval} s, "
          f"re-asks: {reasks}, seed: {seed_value}")
    print(f"pushes accepted: {len(result['pushes'])} of {expected} expected; "
          f"answers by status: {result['status']}; {elapsed:.1f} s")
    exact, too_late = report_day(result["pushes"], first_due, reasks, interval)
    # With two separate servers one is always up: no ask may wait for a restart.
    return exact and (processes == 1 or too_late == 0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=3.0, help="snooze interval, seconds")
    parser.add_argument("--reasks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1,
                        help="servers alive at once on one Redis (killed in turn)")
    parser.add_argument("--workers", type=int, default=None,
                        help="one gunicorn service with this many workers (--kills then kill "
                             "single workers, which the master replaces)")
    parser.add_argument("--service-kills", type=int, default=0,
                        help="SIGKILLs of the whole service (every process), then a restart")
    parser.add_argument("--redis-restarts", type=int, default=0,
                        help="restarts of Redis itself mid-day (with its append-only file)")
    args = parser.parse_args(argv)
    ok = run(args.users, args.kills, args.interval, args.reasks, args.seed, args.settle_timeout,
             args.processes, args.workers, args.service_kills, args.redis_restarts)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
