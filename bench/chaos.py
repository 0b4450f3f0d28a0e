"""Chaos run: N users through a compressed reminder day while the server is killed (SIGKILL)
and restarted K times at random moments. Everyone is watched by someone. Half of the users
answer each round (`Answerers`); the other half never do, so each of their rounds ends in a
watch alert. Prints what the LINE stand-in saw:

    asks lost: X, asks shown twice: Y
    watch alerts lost: X, alerts shown twice: Y
    answers lost: X of Y (...)
    lateness: ...

    python -m bench.chaos --users 1000 --kills 20
    python -m bench.chaos --processes 2    # two servers on one Redis, killed in turn
    python -m bench.chaos --no-answers     # nobody answers (asks and alerts only)
    python -m bench.chaos --cluster --workers 3 --kills 10 --failovers 2
                                           # on a Redis Cluster whose masters fail over

With `--processes 2` two servers share the Redis at every moment (a Heroku deploy, all day
long): each kill takes one of them, alternately, and restarts it while the other carries on.
Lateness is each ask's delay past its due time: the seeded time for the first ask, one snooze
interval after the previous ask's delivery for a re-ask.

With `--cluster` the bot runs on a local Redis Cluster (3 masters, 3 replicas, REDIS_CLUSTER=1),
and each of `--failovers` kills (SIGKILL) the master that serves the shard of a user whose
asks are still to come, waits for its replica to take over, and starts the old master again,
which rejoins as the new master's replica.
"""
import argparse
import collections
import heapq
import itertools
import os
import random
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from typing import Optional

from redis.crc import key_slot

from bench import records, scenarios, stats
from bench.procs import SECRET, BotProcess, monotonic
from bench.webhooks import (
    post_once, signed_request, sticker_message, text_message, user_event, webhook_body,
)
from chat import texts
from storage import keys
from storage.redis_server import wait_until


def seed(client, users, first_due_within):
    """Users whose first ask falls due at random moments within the next few seconds, each
    watched by one watcher of their own; returns {user id: first due time}."""
    # People choose times on the minute, so many share each one: 30 distinct first-ask
    # moments in the compressed day (asks of rounds that start together share a multicast).
    now = time.time()
    moments = [now + 2 + random.uniform(0, first_due_within) for _ in range(30)]
    due = {uid: random.choice(moments) for uid in records.ids(users)}
    records.write(client, (records.first_ask_record(uid, at) for uid, at in due.items()))
    layout = records.layout_of(client)
    pipe = client.pipeline(transaction=False)
    for uid in due:
        pipe.sadd(layout.watchers(uid), watcher_of(uid))
        pipe.sadd(layout.watching(watcher_of(uid)), uid)
    pipe.execute()
    return due


WATCHER_PREFIX = "W"   # user ids start with U: a push to W… is a watch alert


def watcher_of(uid):
    return WATCHER_PREFIX + uid[1:]


def alert_tally(pushes, ids, answering=frozenset()):
    """The rounds of users who never answer end missed, and their watcher is told once; an
    answered round is told to nobody. (lost, shown twice, alerts for answered rounds)."""
    alerts = [(to, text) for to, text, *_ in pushes if to.startswith(WATCHER_PREFIX)]
    told = {to for to, _ in alerts}
    expected = {watcher_of(uid) for uid in ids if uid not in answering}
    answered = {watcher_of(uid) for uid in answering}
    return (len(expected - told), stats.duplicates(alerts),
            sum(1 for to, _ in alerts if to in answered))


def tally(pushes, ids, asks_per_user, answering=frozenset()):
    """(asks lost, shown twice, unexpected). A user who answers is owed the first ask of their
    round; the re-asks they get are judged with their answer (answer_tally)."""
    pushes = [push for push in pushes if not push[0].startswith(WATCHER_PREFIX)]
    seen = {(to, text) for to, text, *_ in pushes}
    expected = {(uid, texts.ask(k)) for uid in ids
                for k in range(1 if uid in answering else asks_per_user)}
    asks = {texts.ask(k) for k in range(asks_per_user)}
    lost = len(expected - seen)
    twice = stats.duplicates((to, text) for to, text, *_ in pushes)
    unexpected = sum(1 for to, text in seen - expected if not (to in answering and text in asks))
    return lost, twice, unexpected


# -- users who answer -----------------------------------------------------------------------
QUICK_SHARE, QUICK = 0.2, 0.05   # a fifth of the answers are sent within 50 ms of the ask,
ANSWER_WITHIN = 0.8              # the others before 0.8 of a snooze interval (the next re-ask)
REDELIVERY_GAP = 0.1   # LINE redelivers a webhook not answered 200 (compressed with the day)
MAX_DELIVERIES = 100
ANSWER_KINDS = ("text", "sticker", "button")
ANSWER_TEXTS = ("飲んだ", "はい")   # a 飲んだ and any other text: both answer an open round


def answering_users(ids, seed_value):
    """Half of the users, drawn from the seed with a generator of their own (the due times
    and the kills are the same with and without answers)."""
    ids = sorted(ids)
    return frozenset(random.Random(seed_value).sample(ids, len(ids) // 2))


@dataclass
class Answer:
    """A user's answer to one round, the round named by its ask's 飲んだ! postback data."""
    user: str
    button: str
    kind: str                       # one of ANSWER_KINDS
    asked: float                    # when the round's first ask reached LINE (time.time())
    send_at: float
    event: dict                     # the same event (id, reply token) on every delivery
    quick: bool                     # planned within QUICK of the ask
    sent: Optional[float] = None    # the first delivery
    answered: Optional[float] = None   # when a server answered it 200
    deliveries: int = 0

    @property
    def token(self):
        return self.event["replyToken"]


def answer_event(user, kind, button, rng) -> dict:
    token = secrets.token_hex(16)
    if kind == "button":
        return user_event(user, token, "postback", postback={"data": button})
    message = sticker_message() if kind == "sticker" else text_message(rng.choice(ANSWER_TEXTS))
    return user_event(user, token, message=message)


class Answerers:
    """The answering users. When LINE (the stand-in) takes the first ask of a round to one of
    them, a signed webhook from them follows, at a random moment after the ask arrived: a
    text, a sticker or a tap on the ask's 飲んだ! button. It goes to any server (`ports`, which
    the caller updates when it restarts one); one refused (503) or left unanswered (a killed
    server) is delivered again, the same event marked as a redelivery, as LINE does, until a
    server answers 200.

    Asks are learnt by long-polling the stand-in (`/_bench/pushes`): each comes within a
    loopback round trip of its arrival, and the users' behaviour and its tally stay here, in
    the driver, with the kills and the servers' ports."""

    def __init__(self, standin, ports, users, interval, seed_value, senders=8):
        self.standin = standin
        self.ports = ports
        self.users = users
        self.interval = interval
        self.rng = random.Random(seed_value)    # the watching thread's alone
        self.answers = {}                       # (user, button) -> Answer
        self.statuses = collections.Counter()   # of every delivery; "none": no answer
        self._due = []                          # heap of (send at, sequence, Answer)
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._stopping = False
        self._threads = [threading.Thread(target=self._watch, daemon=True)] + [
            threading.Thread(target=self._send_loop, args=(random.Random(seed_value + i),),
                             daemon=True) for i in range(1, senders + 1)]

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def stop(self):
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def _watch(self):
        seen = 0
        while not self._stopping:
            try:
                pushes = self.standin.pushes_since(seen, wait=1.0)
            except OSError:
                return   # the stand-in is gone: the run is over
            seen += len(pushes)
            for to, _, arrived, button in pushes:
                if button and to in self.users and (to, button) not in self.answers:
                    self.plan(to, button, arrived)

    def plan(self, user, button, asked):
        """The user's answer to the round whose first ask reached LINE at `asked`."""
        quick = self.rng.random() < QUICK_SHARE
        delay = (self.rng.uniform(0, QUICK) if quick
                 else self.rng.uniform(QUICK, ANSWER_WITHIN * self.interval))
        kind = self.rng.choice(ANSWER_KINDS)
        answer = Answer(user, button, kind, asked, asked + delay,
                        answer_event(user, kind, button, self.rng), quick)
        self.answers[(user, button)] = answer
        self._schedule(answer.send_at, answer)

    def _schedule(self, at, answer):
        with self._condition:
            heapq.heappush(self._due, (at, next(self._sequence), answer))
            self._condition.notify()

    def _send_loop(self, rng):
        while True:
            with self._condition:
                while True:
                    if self._stopping:
                        return
                    now = time.time()
                    if self._due and self._due[0][0] <= now:
                        _, _, answer = heapq.heappop(self._due)
                        break
                    self._condition.wait(self._due[0][0] - now if self._due else None)
            self.deliver(answer, rng.choice(self.ports))

    def deliver(self, answer, port):
        """One delivery of the answer to the server on `port`; again later unless it got 200."""
        answer.event["deliveryContext"]["isRedelivery"] = answer.deliveries > 0
        answer.deliveries += 1
        body = webhook_body(answer.event)
        if answer.sent is None:
            answer.sent = time.time()
        try:
            status = post_once(port, signed_request(port, body, SECRET), timeout=10)
        except OSError:
            status = "none"
        if status == 200:
            answer.answered = time.time()
        with self._condition:
            self.statuses[status] += 1
        if status != 200 and answer.deliveries < MAX_DELIVERIES:
            self._schedule(time.time() + REDELIVERY_GAP, answer)


def answer_tally(answers, pushes, replies):
    """The answers lost, by why: the reply was not よくできました (by its first line), there was
    no reply, an ask of the round reached the user after the answer was answered 200, or no
    server ever answered it 200. Each lost answer counts once, for the first of these."""
    replied = {token: text for token, text, _ in replies}
    asked = _asks_by_round(pushes)
    lost, wrong = collections.Counter(), collections.Counter()
    for answer in answers:
        reply = replied.get(answer.token)
        if reply is not None and reply != texts.WELL_DONE:
            lost["replied otherwise"] += 1
            wrong[reply.split("\n", 1)[0]] += 1
        elif answer.answered is None:
            lost["never answered 200"] += 1
        elif reply is None:
            lost["no reply"] += 1
        elif _reasked_after(answer, asked):
            lost["re-asked after its 200"] += 1
    return lost, wrong


def redelivered_past_a_reask(answers, pushes, replies):
    """Answers re-asked after their 200 whose first delivery was refused: the user answered
    before the next ask was due, but LINE's redeliveries reached a server after it."""
    replied = {token for token, _, _ in replies}
    asked = _asks_by_round(pushes)
    return sum(1 for answer in answers
               if answer.deliveries > 1 and answer.answered is not None
               and answer.token in replied and _reasked_after(answer, asked))


def _asks_by_round(pushes):
    """(user, the round's 飲んだ! button) -> when each ask of that round reached the user."""
    asked = collections.defaultdict(list)
    for to, _, arrived, button in pushes:
        asked[(to, button)].append(arrived)
    return asked


def _reasked_after(answer, asked) -> bool:
    """An ask of the answer's round reached the user after the answer was answered 200."""
    return any(at > answer.answered for at in asked[(answer.user, answer.button)])


def report_answers(answerers, pushes, replies, answering):
    """Print how the answers went; returns how many were lost."""
    answers = list(answerers.answers.values())
    lost, wrong = answer_tally(answers, pushes, replies)
    why = ", ".join(f"{reason}: {count}" for reason, count in lost.items())
    late = redelivered_past_a_reask(answers, pushes, replies)
    if late:
        why += (f" [{late} of them refused while Redis was away and redelivered until a "
                "server took them, after their round's next ask was on its way]")
    if wrong:
        why += " [" + ", ".join(f"{text}: {count}" for text, count in wrong.items()) + "]"
    quick = [answer for answer in answers if answer.quick]
    in_time = sum(1 for answer in quick
                  if answer.sent is not None and answer.sent - answer.asked <= QUICK)
    kinds = collections.Counter(answer.kind for answer in answers)
    print(f"answers lost: {sum(lost.values())} of {len(answers)}" + (f" ({why})" if why else ""))
    print(f"  {len(answering)} users answer; {in_time} of the {len(quick)} answers meant to "
          f"come within {QUICK * 1000:.0f} ms of their ask did; by kind: {dict(kinds)}; "
          f"deliveries by status: {dict(answerers.statuses)}")
    return sum(lost.values())


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


def expected_pushes(first_due, reasks, answering=frozenset()):
    """Every ask of every round not answered and the alert to its user's watcher; the first
    ask of an answered one."""
    return len(first_due) * (1 + reasks + 1) - len(answering) * (reasks + 1)


def report_day(pushes, first_due, reasks, interval, answering=frozenset()):
    """Print what the users and their watchers were shown and how late each ask came;
    returns (nothing lost or doubled, asks later than one snooze interval)."""
    lost, twice, unexpected = tally(pushes, first_due, 1 + reasks, answering)
    alerts_lost, alerts_twice, alerts_answered = alert_tally(pushes, first_due, answering)
    late = lateness(pushes, first_due, interval)
    too_late = sum(1 for delay in late if delay > interval)
    print(f"asks lost: {lost}, asks shown twice: {twice}"
          + (f", unexpected asks: {unexpected}" if unexpected else ""))
    print(f"watch alerts lost: {alerts_lost}, alerts shown twice: {alerts_twice}"
          + (f", alerts for answered rounds: {alerts_answered}" if alerts_answered else ""))
    print(f"lateness past due: p50 {stats.fmt_ms(stats.percentile(late, 50))}, "
          f"p99 {stats.fmt_ms(stats.percentile(late, 99))}, "
          f"max {stats.fmt_ms(max(late, default=float('nan')))}; "
          f"later than one snooze interval: {too_late}")
    exact = lost == twice == unexpected == alerts_lost == alerts_twice == alerts_answered == 0
    return exact, too_late


def run(users, kills, interval, reasks, seed_value, settle_timeout, processes=1, workers=None,
        service_kills=0, redis_restarts=0, answers=True, cluster=False, failovers=0):
    random.seed(seed_value)
    with scenarios.environment(0.02, name="chaos-redis", persistent=bool(redis_restarts),
                               cluster=cluster) as (redis_server, client, standin):
        first_due = seed(client, users, first_due_within=interval * 3)
        answering = answering_users(first_due, seed_value) if answers else frozenset()
        plan = Plan(kills, service_kills, redis_restarts, failovers)
        return _kill_and_count(redis_server, standin, first_due, answering, plan, interval,
                               reasks, seed_value, settle_timeout, processes, workers)


class Plan:
    """What happens, in a random order, a random 0.2 s to one interval apart: `kills` SIGKILLs
    (of a process, in turn; or of one gunicorn worker, which the master replaces),
    `service_kills` SIGKILLs of the whole service (every process) and a restart,
    `redis_restarts` restarts of Redis itself (its append-only file keeps the data), and
    `failovers` SIGKILLs of a cluster master (its replica takes over)."""

    def __init__(self, kills, service_kills, redis_restarts, failovers=0):
        self.events = (["kill"] * kills + ["service"] * service_kills
                       + ["redis"] * redis_restarts + ["failover"] * failovers)
        random.shuffle(self.events)

    def __str__(self):
        counts = {name: self.events.count(name)
                  for name in ("kill", "service", "redis", "failover")}
        text = (f"kills: {counts['kill']}, whole-service kills: {counts['service']}, "
                f"Redis restarts: {counts['redis']}")
        return text + (f", master failovers: {counts['failover']}" if counts["failover"] else "")


def fail_over(cluster, first_due, reasks, interval):
    """Kill the master of the shard of a user still to be asked (its first ask to come, or
    a re-ask of its round), wait for its replica to take over, start it again as a replica.
    Returns (the killed master's port, seconds until the replica served its slots)."""
    layout = keys.layout(cluster=True)
    now = time.time()
    asking = [uid for uid, due in first_due.items() if due + reasks * interval > now]
    user = random.choice(asking or list(first_due))
    slot = key_slot(layout.due(layout.shard_of(user)).encode())
    master = cluster.master_serving(slot)
    killed = time.monotonic()
    cluster.kill(master)
    wait_until("the replica to take over",
               lambda: cluster.master_serving(slot) not in (None, master), 60)
    took_over = time.monotonic() - killed
    cluster.restart(master)
    wait_until("the old master to rejoin as a replica", cluster.healthy, 60)
    return master.port, took_over


def _kill_and_count(redis_server, standin, first_due, answering, plan, interval, reasks,
                    seed_value, settle_timeout, processes, workers):
    env = {**day_settings(interval, reasks), **scenarios.redis_env(redis_server)}
    failovers = []
    if workers:
        processes = 1

    def start(slot):
        return BotProcess(redis_server.url, standin.base_url, log_name=f"chaos-{slot}",
                          workers=workers, **env).start()

    started = monotonic()
    bots = [start(slot) for slot in range(processes)]
    ports = [bot.port for bot in bots]   # where the answers go; a restarted server's new one
    answerers = Answerers(standin, ports, answering, interval, seed_value)
    try:
        answerers.start()
        for bot in bots:
            bot.wait_healthy()
        turn = 0
        for event in plan.events:
            time.sleep(random.uniform(0.2, interval))
            if event == "redis":
                redis_server.stop()
                redis_server.start()
                continue
            if event == "failover":
                failovers.append(fail_over(redis_server, first_due, reasks, interval))
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
            ports[slot] = bots[slot].port
            bots[slot].wait_healthy()
        expected = expected_pushes(first_due, reasks, answering)
        scenarios.wait_for_pushes(standin, expected, settle_timeout)
        # Until no push for two intervals: rounds whose answer was lost go on being asked
        # (their pushes reach the count early), and a late duplicate shows.
        scenarios.wait_quiet(standin, 2 * interval)
        answered = sum(1 for answer in list(answerers.answers.values()) if answer.answered)
        scenarios.wait_for_pushes(standin, answered, 2 * interval, kind="replies")
        elapsed = monotonic() - started
        result = standin.records()
    finally:
        answerers.stop()
        for bot in bots:
            bot.stop()
    shape = f"gunicorn with {workers} workers" if workers else f"processes: {processes}"
    if scenarios.redis_env(redis_server):
        shape += ", Redis Cluster of 3 masters and 3 replicas"
    print(f"users: {len(first_due)} ({len(answering)} answer), {shape}, {plan}, "
          f"snooze interval: {interval} s, re-asks: {reasks}, seed: {seed_value}")
    for port, took_over in failovers:
        print(f"master :{port} killed, its replica serving its slots {took_over:.1f} s later")
    print(f"pushes accepted: {len(result['pushes'])} of {expected} expected; "
          f"LINE answered the bot: {result['status']}; {elapsed:.1f} s")
    exact, too_late = report_day(result["pushes"], first_due, reasks, interval, answering)
    answers_lost = (report_answers(answerers, result["pushes"], result["replies"], answering)
                    if answering else 0)
    # With two separate servers one is always up: no ask may wait for a restart.
    return exact and answers_lost == 0 and (processes == 1 or too_late == 0)


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
    parser.add_argument("--cluster", action="store_true",
                        help="on a local Redis Cluster of 3 masters and 3 replicas")
    parser.add_argument("--failovers", type=int, default=0,
                        help="--cluster: SIGKILLs of a master mid-day (its replica takes over)")
    parser.add_argument("--answers", action=argparse.BooleanOptionalAction, default=True,
                        help="half of the users answer each round (--no-answers: nobody does)")
    args = parser.parse_args(argv)
    if args.failovers and not args.cluster:
        parser.error("--failovers needs --cluster")
    if args.cluster and args.redis_restarts:
        parser.error("--redis-restarts restarts one Redis; on --cluster, use --failovers")
    ok = run(args.users, args.kills, args.interval, args.reasks, args.seed, args.settle_timeout,
             args.processes, args.workers, args.service_kills, args.redis_restarts, args.answers,
             args.cluster, args.failovers)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
