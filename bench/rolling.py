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
import itertools
import random
import secrets
import threading
import time

from bench import chaos, records, scenarios
from bench.procs import SECRET, BotProcess, monotonic
from bench.webhooks import post_once, signed_request, text_event_body


class Router:
    """Sends signed webhooks at a steady rate, each on a new connection to whichever server
    is current, and keeps every answer."""

    def __init__(self, port, users, rate, seed_value, threads=4):
        self.port = port
        self.users = users
        self.gap = threads / rate
        # Each thread its own generator (the same seed, the same users) and its own moment
        # in the gap, so that the threads do not send in bursts.
        self.threads = [threading.Thread(target=self._send_loop, daemon=True,
                                         args=(random.Random(seed_value + i), i / threads))
                        for i in range(threads)]
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

    def _send_loop(self, rng, offset):
        next_send = monotonic() + offset * self.gap
        while not self.stopping.is_set():
            next_send += self.gap
            time.sleep(max(0.0, next_send - monotonic()))
            token = secrets.token_hex(16)
            body = text_event_body(rng.choice(self.users), "設定教えて", token)
            try:
                status = post_once(self.port, signed_request(self.port, body, SECRET), 10)
            except OSError:
                with self._lock:
                    self.failures += 1
                continue
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 200:
                    self.answered_tokens.append(token)


def run(users, restarts, interval, reasks, rate, workers, seed_value, settle_timeout):
    random.seed(seed_value)   # the users' due times and the restarts (this thread only)
    env = chaos.day_settings(interval, reasks)
    with scenarios.environment(0.02, name="rolling-redis") as (redis_server, client, standin):
        generation = itertools.count(1)

        def start():
            return BotProcess(redis_server.url, standin.base_url,
                              log_name=f"rolling-{next(generation) % 2}", workers=workers,
                              **env).start()

        servers, router = [], None   # every server started, each stopped in the end
        try:
            first_due = chaos.seed(client, users, first_due_within=interval * 3)
            started = monotonic()
            servers.append(start())
            servers[-1].wait_healthy()
            asking = list(records.ids(200, start=users))   # no time set: "設定教えて" replies
            router = Router(servers[-1].port, asking, rate, seed_value)
            router.start()
            for _ in range(restarts):
                time.sleep(random.uniform(0.2, interval))
                servers.append(start())
                servers[-1].wait_healthy()
                router.port = servers[-1].port   # new requests go to the new server only
                servers[-2].stop()               # SIGTERM, then wait for it to exit
            time.sleep(1.0)
            router.stop()
            expected = chaos.expected_pushes(first_due, reasks)
            accepted = scenarios.wait_for_pushes(standin, expected, settle_timeout)
            # A webhook is answered before its reply is sent: wait for the last replies.
            scenarios.wait_for_pushes(standin, len(router.answered_tokens), settle_timeout,
                                      kind="replies")
            elapsed = monotonic() - started
            result = standin.records()
        finally:
            if router is not None:
                router.stopping.set()
            for server in servers:
                server.stop()
    shape = f"gunicorn with {workers} workers" if workers else "python web.py"
    print(f"users: {users}, {shape}, rolling restarts: {restarts}, "
          f"snooze interval: {interval} s, re-asks: {reasks}, webhooks offered: {rate:.0f}/s, "
          f"seed: {seed_value}; {elapsed:.1f} s")
    print(f"pushes accepted: {accepted} of {expected} expected")
    webhooks_ok = report_webhooks(router, result["replies"])
    exact, too_late = chaos.report_day(result["pushes"], first_due, reasks, interval)
    return webhooks_ok and exact and too_late == 0


def report_webhooks(router, replies):
    """Print how the webhooks were answered; True when every one got a 200 and its reply."""
    replied = {token for token, _, _ in replies}
    missing = sum(1 for token in router.answered_tokens if token not in replied)
    sent = sum(router.statuses.values()) + router.failures
    other = sum(count for status, count in router.statuses.items() if status != 200)
    print(f"webhooks: {sent} sent, {router.statuses.get(200, 0)} answered 200, {other} "
          f"answered otherwise {router.statuses}, {router.failures} failed to connect or read, "
          f"{missing} replies missing")
    return other == 0 and router.failures == 0 and missing == 0


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
