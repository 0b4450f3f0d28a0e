"""Chaos run: N users through a compressed reminder day while the server is killed (SIGKILL)
and restarted K times at random moments. Prints what the LINE stand-in saw:

    asks lost: X, asks shown twice: Y

    python -m bench.chaos --users 1000 --kills 20
"""
import argparse
import random
import signal
import time
import redis

from bench import records, stats
from bench.procs import BotProcess, StandInProcess, monotonic, private_redis
from chat import texts


def seed(client, users, first_due_within):
    """Users whose first ask falls due at random moments within the next few seconds."""
    now = time.time()
    ids = list(records.ids(users))
    records.write(client, (records.first_ask_record(uid, now + 2 + random.uniform(0, first_due_within))
                           for uid in ids))
    return ids


def tally(pushes, ids, asks_per_user):
    seen = {(to, text) for to, text, _ in pushes}
    expected = {(uid, texts.ask(k)) for uid in ids for k in range(asks_per_user)}
    lost = len(expected - seen)
    twice = stats.duplicates((to, text) for to, text, _ in pushes)
    unexpected = len(seen - expected)
    return lost, twice, unexpected


def run(users, kills, interval, reasks, seed_value, settle_timeout):
    random.seed(seed_value)
    with private_redis("chaos-redis") as redis_server:
        client = redis.Redis.from_url(redis_server.url)
        standin = StandInProcess(latency=0.02)
        try:
            ids = seed(client, users, first_due_within=interval * 3)
            return _kill_and_count(redis_server, standin, ids, kills, interval, reasks,
                                   seed_value, settle_timeout)
        finally:
            client.close()
            standin.stop()


def _kill_and_count(redis_server, standin, ids, kills, interval, reasks, seed_value,
                    settle_timeout):
    users, asks_per_user = len(ids), 1 + reasks
    env = dict(SNOOZE_INTERVAL_SECONDS=interval, MAX_REASKS=reasks, PUSH_LEASE_SECONDS=2)
    started = monotonic()
    bot = BotProcess(redis_server.url, standin.base_url, log_name="chaos", **env).start()
    try:
        bot.wait_healthy()
        for kill in range(kills):
            time.sleep(random.uniform(0.2, interval))
            bot.process.send_signal(signal.SIGKILL)
            bot.process.wait()
            bot = BotProcess(redis_server.url, standin.base_url, log_name="chaos", **env).start()
            bot.wait_healthy()
        expected_pushes = users * asks_per_user
        deadline = monotonic() + settle_timeout
        while monotonic() < deadline and standin.stats().get("pushes", 0) < expected_pushes:
            time.sleep(0.5)
        elapsed = monotonic() - started
        result = standin.records()
    finally:
        bot.stop()
    lost, twice, unexpected = tally(result["pushes"], ids, asks_per_user)
    print(f"users: {users}, kills: {kills}, snooze interval: {interval} s, "
          f"re-asks: {reasks}, seed: {seed_value}")
    print(f"pushes accepted: {len(result['pushes'])} of {expected_pushes} expected; "
          f"answers by status: {result['status']}; {elapsed:.1f} s")
    print(f"asks lost: {lost}, asks shown twice: {twice}"
          + (f", unexpected asks: {unexpected}" if unexpected else ""))
    return lost == 0 and twice == 0 and unexpected == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--interval", type=float, default=3.0, help="snooze interval, seconds")
    parser.add_argument("--reasks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    ok = run(args.users, args.kills, args.interval, args.reasks, args.seed, args.settle_timeout)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
