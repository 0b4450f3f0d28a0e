"""Rolling restarts, as Heroku deploys and restarts a dyno: a new server starts on the same
Redis, the router sends new webhooks to it once it answers /healthz, then the old one gets
SIGTERM (and finishes what it had). Meanwhile users are asked and re-asked, nobody answers,
everyone is watched, and signed webhooks needing a reply keep coming. Prints:

    webhooks: sent, answered 200, answered otherwise, failed to connect or read, replies missing
    asks lost / shown twice, alerts lost / shown twice, lateness

    python -m bench.rolling --restarts 5
    python -m bench.rolling --restarts 5 --workers 2    # gunicorn services
"""
import argparse
import http.client
import random
import secrets
import threading
import time

import redis

from bench import chaos, records, stats
from bench.procs import SECRET, BotProcess, StandInProcess, monotonic, private_redis
from bench.webhooks import text_event_body
from simulator.signing import sign


class Router:
    """Sends signed webhooks at a steady rate, each on a new connection to whichever server
    is current, and keeps every answer."""

    def __init__(self, port, users, rate, threads=4):
        self.port = port
        self.users = users
        self.gap = threads / rate
        self.threads = [threading.Thread(target=self._send_loop, daemon=True)
                        for _ in range(threads)]
        self.stopping = threading.Event()
        self.statuses = {}
        self.failures = 0
        self.answered_tokens = []
        self._lock = threading.Lock()

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _send_loop(self):
        next_send = monotonic()
        while not self.stopping.is_set():
            next_send += self.gap
            time.sleep(max(0.0, next_send - monotonic()))
            token = secrets.token_hex(16)
            body = text_event_body(random.choice(self.users), "設定教えて", token)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/callback", body=body, headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Line-Signature": sign(SECRET, body)})
                status = conn.getresponse().status
                conn.close()
            except OSError:
                with self._lock:
                    self.failures += 1
                continue
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 200:
                    self.answered_tokens.append(token)


def run(users, restarts, interval, reasks, rate, workers, seed_value, settle_timeout):
    random.seed(seed_value)
    env = dict(SNOOZE_INTERVAL_SECONDS=interval, MAX_REASKS=reasks, PUSH_LEASE_SECONDS=1,
               DUE_LEASE_SECONDS=1)
    with private_redis("rolling-redis") as redis_server:
        client = redis.Redis.from_url(redis_server.url)
        standin = StandInProcess(latency=0.02)
        generation = [0]

        def start():
            generation[0] += 1
            return BotProcess(redis_server.url, standin.base_url,
                              log_name=f"rolling-{generation[0] % 2}", workers=workers,
                              **env).start()

        bot = router = None
        try:
            first_due = chaos.seed(client, users, first_due_within=interval * 3)
            started = monotonic()
            bot = start()
            bot.wait_healthy()
            asking = list(records.ids(200, start=users))   # no time set: "設定教えて" replies
            router = Router(bot.port, asking, rate)
            router.start()
            for _ in range(restarts):
                time.sleep(random.uniform(0.2, interval))
                new = start()
                new.wait_healthy()
                router.port = new.port     # new requests go to the new server only
                bot.stop()                 # SIGTERM, then wait for it to exit
                bot = new
            time.sleep(1.0)
            router.stop()
            expected_pushes = users * (1 + reasks) + users
            deadline = monotonic() + settle_timeout
            while monotonic() < deadline and standin.stats().get("pushes", 0) < expected_pushes:
                time.sleep(0.5)
            elapsed = monotonic() - started
            result = standin.records()
        finally:
            if router is not None:
                router.stopping.set()
            if bot is not None:
                bot.stop()
            client.close()
            standin.stop()
    return report(result, router, first_due, reasks, interval, restarts, workers, rate, elapsed)


def report(result, router, first_due, reasks, interval, restarts, workers, rate, elapsed):
    replied = {token for token, _, _ in result["replies"]}
    missing = sum(1 for token in router.answered_tokens if token not in replied)
    sent = sum(router.statuses.values()) + router.failures
    other = sum(count for status, count in router.statuses.items() if status != 200)
    lost, twice, unexpected = chaos.tally(result["pushes"], first_due, 1 + reasks)
    alerts_lost, alerts_twice = chaos.alert_tally(result["pushes"], first_due)
    late = chaos.lateness(result["pushes"], first_due, interval)
    too_late = sum(1 for delay in late if delay > interval)
    shape = f"gunicorn with {workers} workers" if workers else "python web.py"
    print(f"users: {len(first_due)}, {shape}, rolling restarts: {restarts}, "
          f"snooze interval: {interval} s, re-asks: {reasks}, webhooks offered: {rate:.0f}/s; "
          f"{elapsed:.1f} s")
    print(f"webhooks: {sent} sent, {router.statuses.get(200, 0)} answered 200, {other} "
          f"answered otherwise {router.statuses}, {router.failures} failed to connect or read, "
          f"{missing} replies missing")
    print(f"asks lost: {lost}, asks shown twice: {twice}"
          + (f", unexpected asks: {unexpected}" if unexpected else ""))
    print(f"watch alerts lost: {alerts_lost}, alerts shown twice: {alerts_twice}")
    print(f"lateness past due: p50 {stats.fmt_ms(stats.percentile(late, 50))}, "
          f"p99 {stats.fmt_ms(stats.percentile(late, 99))}, "
          f"max {stats.fmt_ms(max(late, default=float('nan')))}; "
          f"later than one snooze interval: {too_late}")
    return (other == 0 and router.failures == 0 and missing == 0 and lost == 0 and twice == 0
            and unexpected == 0 and alerts_lost == 0 and alerts_twice == 0 and too_late == 0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--interval", type=float, default=3.0, help="snooze interval, seconds")
    parser.add_argument("--reasks", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks per second")
    parser.add_argument("--workers", type=int, default=None,
                        help="each server a gunicorn service with this many workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    ok = run(args.users, args.restarts, args.interval, args.reasks, args.rate, args.workers,
             args.seed, args.settle_timeout)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
