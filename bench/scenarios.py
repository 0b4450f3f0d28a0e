"""The scenarios: each sets up its own Redis, stand-in and bot, runs, prints one line per
figure, and stops everything it started (by PID) in a `finally`."""
import contextlib
import math
import time

import redis as redis_py
from redis.cluster import RedisCluster
from redis.crc import key_slot

from bench import procs, records, stats
from bench.profiled import print_summary
from bench.webhooks import WebhookFactory, closed_loop
from chat import texts
from outbox.backlog import REPLY_DEADLINE_SECONDS
from settings import Settings
from storage import keys

LINE_RATE = 2000             # LINE: push + reply requests per second per channel
WEBHOOK_TEXT = "設定教えて"    # "show my setting": every one needs a reply


class Report:
    """Collects figures; prints each as one line: what, measured, goal, verdict."""

    def __init__(self):
        self.rows = []

    def figure(self, what, measured, goal="", ok=None):
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        self.rows.append((what, measured, goal, verdict))
        print(f"{what:<44} {measured:<34} {('goal ' + goal) if goal else '':<22} {verdict}")

    def note(self, text):
        print(f"  # {text}")


@contextlib.contextmanager
def environment(latency=0.0, rate_limit=None, name="redis", persistent=False, cluster=None):
    """A private Redis of its own (`name`, `persistent`: procs.private_redis) with a client,
    and the stand-in; all stopped afterwards. With `cluster` (by default CLUSTER): a private
    Redis Cluster (procs.private_cluster) and a cluster client instead."""
    cluster = CLUSTER if cluster is None else cluster
    servers = procs.private_cluster(name) if cluster else procs.private_redis(
        name, persistent=persistent)
    with servers as server:
        client = (RedisCluster.from_url(server.url) if cluster
                  else redis_py.Redis.from_url(server.url))
        standin = None
        try:
            standin = procs.StandInProcess(latency=latency, rate_limit=rate_limit)
            yield server, client, standin
        finally:
            client.close()
            if standin is not None:
                standin.stop()


# gunicorn workers for every bot the scenarios start (None: `python web.py`, one process).
WORKERS = None
# Every scenario on a local Redis Cluster (3 masters, 3 replicas) instead of one Redis.
CLUSTER = False


def redis_env(server) -> dict:
    """What the bot is told about its Redis beyond REDIS_URL."""
    return {"REDIS_CLUSTER": 1} if isinstance(server, procs.LocalCluster) else {}


class RedisCpu:
    """CPU seconds each Redis process used: the one Redis, or each master of the cluster
    (by its port), since `start()`."""

    def __init__(self, server):
        self.server = server

    def total(self) -> float:
        """CPU seconds of every Redis process so far."""
        return sum(self._now().values())

    def _now(self):
        if isinstance(self.server, procs.LocalCluster):
            return {node.port: procs.cpu_seconds(node.process.pid)
                    for node in self.server.nodes if node.process is not None}
        return {"redis": procs.cpu_seconds(self.server.process.pid)}

    def start(self):
        self.before = self._now()
        return self

    def stop(self):
        after = self._now()
        self.used = {name: after[name] - self.before.get(name, 0.0) for name in after}
        return self


@contextlib.contextmanager
def running_bot(server, standin, name, profile=False, variants=(), **env):
    if variants:
        name += "+" + "+".join(variants)
    if WORKERS:
        name += f"-{WORKERS}workers"
    if isinstance(server, procs.LocalCluster):
        name += "-cluster"
    bot = procs.BotProcess(server.url, standin.base_url, log_name=name, profile=profile,
                           variants=variants, fresh_log=True, workers=WORKERS,
                           **redis_env(server), **env)
    try:
        yield bot.start()
    finally:
        bot.stop()


def wait_for_pushes(standin, expected, timeout, kind="pushes"):
    """Poll the stand-in until `expected` pushes (or `kind`: "replies") arrived, or for
    `timeout`; returns the count."""
    deadline = time.monotonic() + timeout
    while True:
        arrived = standin.stats()[kind]
        if arrived >= expected or time.monotonic() >= deadline:
            return arrived
        time.sleep(0.25)


def wait_quiet(standin, quiet):
    """Poll the stand-in until no push has arrived for `quiet` seconds."""
    while True:
        before = standin.stats()["pushes"]
        time.sleep(quiet)
        if standin.stats()["pushes"] == before:
            return


def _patience(n, rate):
    return max(n / rate * 4, n / 150) + 60


class CpuWindow:
    """CPU seconds the bot (all its processes) used between start() and stop(), and the
    cores it kept busy."""

    def __init__(self, bot):
        self.bot = bot

    def start(self):
        self.cpu, self.wall = self.bot.cpu_seconds(), time.monotonic()
        return self

    def stop(self):
        self.cpu = self.bot.cpu_seconds() - self.cpu
        self.wall = time.monotonic() - self.wall
        return self

    @property
    def busy(self):
        return self.cpu / self.wall if self.wall else math.nan


def _sleep_until(wall_clock):
    delay = wall_clock - time.time()
    if delay > 0:
        time.sleep(delay)


QUIET_SECONDS = 2.0   # after the last expected push, so that a duplicate would show


def _push_figures(report, label, n, due_of, text, data, rate_goal):
    """Exactly-once, lateness and peak rate from the stand-in's records."""
    pushes = [(to, at) for to, pushed_text, at, _ in data["pushes"] if pushed_text == text]
    users = {to for to, _ in pushes}
    dupes = stats.duplicates(to for to, _ in pushes)
    late = stats.lateness(due_of, pushes)
    report.figure(f"{label}: delivered exactly once", f"{len(users)}/{n} users, {dupes} dupl.",
                  f"{n}/{n}, 0 dupl.", len(users) == n and dupes == 0)
    peak = stats.peak_rate(data["attempts"])
    refused = data["status"].get("429", 0)
    report.figure(f"{label}: peak send rate (any 1 s)", f"{peak}/s, {refused}x 429",
                  f"<= {rate_goal:.0f}/s", peak <= rate_goal)
    return late


def burst_goal(n) -> float:
    """Seconds from the due time to the last first ask of n users due together: 1 s up to
    10,000, 5 s for 100,000, the straight line between (and beyond)."""
    return 1.0 + 4.0 * max(0, n - 10_000) / 90_000


def burst(report, n=10000, latency=0.05, rate_limit=LINE_RATE, push_rate=None, lead=None,
          profile=False, variants=()):
    """N users due the same instant; the stand-in refuses anything over `rate_limit`/s."""
    rate = push_rate or Settings.push_rate_per_second
    with environment(latency, rate_limit) as (server, client, standin):
        lead = lead if lead is not None else 6.0 + n * 6e-5
        due = time.time() + lead
        records.write(client, (records.first_ask_record(uid, due) for uid in records.ids(n)))
        env = {"PUSH_RATE_PER_SECOND": rate} if push_rate else {}
        with running_bot(server, standin, f"bot-burst-{n}", profile=profile,
                         variants=variants, **env) as bot:
            _, healthy = bot.wait_healthy()
            if time.time() > due:
                report.note(f"the bot became healthy {time.time() - due:.1f} s after the due time;"
                            " raise --lead")
            idle = bot.memory()["VmRSS"]
            bot.reset_peak()
            bot.profile_start()
            _sleep_until(due)
            window = CpuWindow(bot).start()
            redis_cpu = RedisCpu(server).start()
            for redis_client in _masters(server, client).values():
                redis_client.config_resetstat()
            wait_for_pushes(standin, n, _patience(n, rate))
            window.stop()
            redis_cpu = redis_cpu.stop().used
            serving = _shards_served(server)
            redis_commands = {}
            for redis_client in _masters(server, client).values():
                for name, stat in redis_client.info("commandstats").items():
                    total = redis_commands.setdefault(name, {"usec": 0, "calls": 0})
                    total["usec"] += stat["usec"]
                    total["calls"] += stat["calls"]
            time.sleep(QUIET_SECONDS)
            peak = bot.memory()["VmHWM"]
            profile = bot.profile_stop()
            data = standin.records()
    text = texts.ask(0)
    due_of = {uid: due for uid in records.ids(n)}
    late = _push_figures(report, f"burst {n}", n, due_of, text, data, rate)
    goal = burst_goal(n)
    last = max(late) if late else math.nan
    report.figure(f"burst {n}: last first ask after due", f"{last:.2f} s (p50 "
                  f"{stats.percentile(late, 50):.2f} s)", f"<= {goal:.1f} s", last <= goal)
    sent = len(data["pushes"])
    report.figure(f"burst {n}: bot CPU per push", f"{1000 * window.cpu / max(1, sent):.2f} ms "
                  f"({sent / max(last, 1e-9):.0f}/s, {window.busy:.2f} cores busy); "
                  f"Redis {1000 * sum(redis_cpu.values()) / max(1, sent):.3f} ms")
    if serving:
        _per_master(report, n, serving, redis_cpu, due_of)
    busiest = sorted(redis_commands.items(), key=lambda item: -item[1]["usec"])[:4]
    report.note("Redis time by command: " + ", ".join(
        f"{name.removeprefix('cmdstat_')} {stat['usec'] / 1e6:.2f} s ({stat['calls']} calls)"
        for name, stat in busiest))
    report.figure(f"burst {n}: memory peak / idle", f"{peak / 1024:.0f} / {idle / 1024:.0f} MiB"
                  f" = {peak / idle:.2f}x", "<= 2x", peak <= 2 * idle)
    if profile:
        print_summary(profile, per=sent, unit="push")


def _masters(server, client) -> dict:
    """A client of each master by its port (one Redis: {"redis": the client})."""
    if not isinstance(server, procs.LocalCluster):
        return {"redis": client}
    return {node.port: server.client(node) for node in server.nodes[:server.masters]
            if node.process is not None}


def _shards_served(server) -> dict:
    """On a cluster: {shard: the port of the master that serves it}; else {}."""
    if not isinstance(server, procs.LocalCluster):
        return {}
    layout = keys.layout(cluster=True)
    return {shard: server.master_serving(key_slot(layout.due(shard).encode())).port
            for shard in range(layout.shards)}


def _per_master(report, n, serving, redis_cpu, due_of):
    """The Redis CPU per ask of each master of the cluster: asks of the users whose shard
    it serves."""
    layout = keys.layout(cluster=True)
    asks, shards = {}, {}
    for uid in due_of:
        port = serving[layout.shard_of(uid)]
        asks[port] = asks.get(port, 0) + 1
    for shard, port in serving.items():
        shards.setdefault(port, []).append(shard)
    parts = [f":{port} {len(shards[port])} shards, {asks.get(port, 0)} asks, "
             f"{1000 * redis_cpu.get(port, 0.0) / max(1, asks.get(port, 0)):.3f} ms/ask"
             for port in sorted(shards)]
    report.figure(f"burst {n}: Redis CPU per ask, each master", "; ".join(parts))


def reasks(report, n=10000, latency=0.05, spread=None, push_rate=None, profile=False,
           variants=()):
    """N users with an open round, first ask sent, re-ask k=1 due over `spread` seconds
    (default: the shape a burst leaves behind, N / push rate)."""
    rate = push_rate or Settings.push_rate_per_second
    spread = n / rate if spread is None else spread
    with environment(latency, LINE_RATE) as (server, client, standin):
        start = time.time() + 6.0 + n * 6e-5
        due_of = {uid: start + spread * i / n for i, uid in enumerate(records.ids(n))}
        records.write(client, (records.reask_record(uid, due) for uid, due in due_of.items()))
        env = {"PUSH_RATE_PER_SECOND": rate} if push_rate else {}
        with running_bot(server, standin, f"bot-reasks-{n}", profile=profile,
                         variants=variants, **env) as bot:
            bot.wait_healthy()
            if time.time() > start:
                report.note("the bot became healthy after the first re-ask was due")
            bot.profile_start()
            _sleep_until(start)
            window = CpuWindow(bot).start()
            wait_for_pushes(standin, n, spread + _patience(n, rate))
            window.stop()
            time.sleep(QUIET_SECONDS)
            profile = bot.profile_stop()
            data = standin.records()
    text = texts.ask(1)
    late = _push_figures(report, f"reasks {n}", n, due_of, text, data, rate)
    report.figure(f"reasks {n}: lateness p50 / p99 / max",
                  f"{stats.percentile(late, 50):.2f} / {stats.percentile(late, 99):.2f} / "
                  f"{max(late) if late else math.nan:.2f} s",
                  "p99 <= 0.5 s", stats.percentile(late, 99) <= 0.5)
    report.note(f"{n} re-asks due over {spread:.1f} s ({n / max(spread, 1e-9):.0f}/s offered); "
                f"bot CPU {1000 * window.cpu / max(1, len(data['pushes'])):.2f} ms per push, "
                f"{window.busy:.2f} cores busy")
    if profile:
        print_summary(profile, per=len(data["pushes"]), unit="push")


def idle(report, n=100000, settle=1.0, times=1, variants=()):
    """Memory per idle user and restart time: the same bot started on 0 and on N users, each
    with `times` daily times."""
    with environment() as (server, client, standin):
        with running_bot(server, standin, "bot-idle-0", variants=variants) as bot:
            empty_answer, empty_start = bot.wait_healthy()
            time.sleep(settle)
            baseline = bot.memory()
        began = time.monotonic()
        now = time.time()
        records.write(client, (records.idle_record(uid, now, times) for uid in records.ids(n)))
        wrote = time.monotonic() - began
        with running_bot(server, standin, f"bot-idle-{n}", variants=variants) as bot:
            answering, healthy = bot.wait_healthy(timeout=600)
            time.sleep(settle)
            loaded = bot.memory()
            snapshot = bot.debug_actors()
        with running_bot(server, standin, f"bot-idle-{n}-webhook", variants=variants) as bot:
            first_reply = bot.first_reply(standin, records.user_id(0), WEBHOOK_TEXT)
    per_user = (loaded["VmRSS"] - baseline["VmRSS"]) * 1024 / n
    report.figure(f"memory: RSS per idle user ({n}, {times} time{'s' * (times > 1)})",
                  f"{per_user:.0f} B "
                  f"({baseline['VmRSS'] / 1024:.0f} -> {loaded['VmRSS'] / 1024:.0f} MiB)",
                  "<= 1024 B", per_user <= 1024)
    report.figure(f"memory: peak RSS while starting with {n}",
                  f"{loaded['VmHWM'] / 1024:.0f} MiB")
    report.figure(f"restart: {n} users -> /healthz 200", f"{healthy:.2f} s from exec "
                  f"(0 users: {empty_start:.2f} s)", "<= 1 s", healthy <= 1.0)
    report.figure(f"restart: {n} users -> first webhook replied", f"{first_reply:.2f} s "
                  "from exec", "<= 1 s", first_reply <= 1.0)
    starting = healthy - answering
    report.figure(f"restart: listening -> 200 ({n} users)", f"{starting:.2f} s "
                  f"(0 users: {empty_start - empty_answer:.2f} s)", "<= 1 s", starting <= 1.0)
    report.note(f"{n} records written in {wrote:.1f} s; bot reports "
                f"{snapshot['due']['count']} users with a due time, "
                f"{snapshot['awake_count']} awake")


OFFERED_WEBHOOKS = 1500  # requests/s offered for the latency figure (the goal's load)


def webhooks(report, users=10000, connections=64, duration=5.0, warmup=1.0,
             latencies=(0.0, 0.05), profile=False, variants=()):
    """Signed one-text-event webhooks on keep-alive connections; each needs a reply. First
    as fast as the bot answers (throughput), then at OFFERED_WEBHOOKS/s (latency), with LINE's
    reply call answering after each of `latencies`."""
    with environment() as (server, client, standin):
        now = time.time()
        ids = list(records.ids(users))
        records.write(client, (records.idle_record(uid, now) for uid in ids))
        with running_bot(server, standin, "bot-webhooks", profile=profile,
                         variants=variants) as bot:
            bot.wait_healthy()
            for latency in latencies:
                standin.configure(latency=latency)
                standin.reset()
                factory = WebhookFactory(bot.port, procs.SECRET, ids, WEBHOOK_TEXT)
                cpu_of = {"bot": bot.cpu_seconds,
                          "stand-in": lambda: procs.cpu_seconds(standin.pid),
                          "redis": RedisCpu(server).total}
                cpu0 = {name: cpu() for name, cpu in cpu_of.items()}
                driver0 = time.process_time()
                began = time.monotonic()
                bot.profile_start()
                result = closed_loop(bot.port, factory, connections, duration, warmup)
                wall = time.monotonic() - began
                used = {name: cpu() - cpu0[name] for name, cpu in cpu_of.items()}
                used["driver"] = time.process_time() - driver0
                cpu = used["bot"]
                ok = result.statuses.get(200, 0)
                wait_for_pushes(standin, ok, 30, kind="replies")
                profile = bot.profile_stop()
                data = standin.records()
                lag = [at - result.sent[token] for token, _, at in data["replies"]
                       if token in result.sent]
                label = f"webhooks, reply {latency * 1000:.0f} ms"
                p99 = stats.percentile(result.latencies, 99)
                report.figure(f"{label}: throughput", f"{result.rate:.0f} req/s "
                              f"({connections} conns)", ">= 2000 req/s", result.rate >= 2000)
                report.figure(f"{label}: latency p50 / p99",
                              f"{stats.fmt_ms(stats.percentile(result.latencies, 50))} / "
                              f"{stats.fmt_ms(p99)}", "p99 <= 50 ms", p99 <= 0.05)
                total = sum(result.statuses.values())
                report.note(f"{ok}/{total} answered 200 ({result.statuses}), "
                            f"{result.errors} connections lost, "
                            f"{len(data['replies'])} replies sent, reply sent after p50/p99 "
                            f"{stats.fmt_ms(stats.percentile(lag, 50))} / "
                            f"{stats.fmt_ms(stats.percentile(lag, 99))}, bot CPU "
                            f"{1000 * cpu / max(1, total):.2f} ms per webhook")
                report.note("CPU (cores busy): " + ", ".join(
                    f"{name} {seconds / wall:.2f}" for name, seconds in used.items()))
                paced = closed_loop(bot.port, factory, connections, duration, warmup,
                                    offered=OFFERED_WEBHOOKS)
                paced_p99 = stats.percentile(paced.latencies, 99)
                report.figure(f"{label}: latency at {OFFERED_WEBHOOKS}/s offered",
                              f"p50 {stats.fmt_ms(stats.percentile(paced.latencies, 50))}, "
                              f"p99 {stats.fmt_ms(paced_p99)} ({paced.rate:.0f} req/s done)",
                              "p99 <= 50 ms", paced_p99 <= 0.05)
                if profile:
                    print_summary(profile, per=total, unit="webhook")


# More webhook connections than the bot's pool of connections to LINE (256: its 128 push
# slots and 128 reply connections), each sending again as soon as it is answered.
OVERLOAD_CONNECTIONS = 320


def overload(report, users=1000, connections=OVERLOAD_CONNECTIONS, duration=10.0, warmup=5.0,
             latency=0.05):
    """More webhooks needing a reply than LINE takes replies for: `users` users sending
    設定教えて on `connections` keep-alive connections, each as soon as the last was answered,
    while the stand-in answers every call in `latency` and refuses (429) past LINE's 2,000
    requests/s. Every webhook answered 200 must be replied to (lost: 0); the others are
    answered 503, which LINE would redeliver. Counts are over the whole run; rates over the
    `duration` s after `warmup` s (the bot's backlog of owed replies fills meanwhile)."""
    with environment(latency=latency, rate_limit=LINE_RATE) as (server, client, standin):
        ids = list(records.ids(users))
        records.write(client, (records.idle_record(uid, time.time()) for uid in ids))
        with running_bot(server, standin, "bot-overload") as bot:
            bot.wait_healthy()
            window = CpuWindow(bot).start()
            result = closed_loop(bot.port, WebhookFactory(bot.port, procs.SECRET, ids,
                                                          WEBHOOK_TEXT),
                                 connections, duration, warmup)
            window.stop()
            answered = {token for token, status in result.answers.items() if status == 200}
            # Past the replies' deadline, what has not come is lost.
            wait_for_pushes(standin, len(answered), REPLY_DEADLINE_SECONDS + 5, kind="replies")
            data = standin.records()
    replied_at = {token: at for token, _, at in data["replies"]}
    replied = answered & replied_at.keys()
    refused = {token for token, status in result.answers.items() if status == 503}
    other = {status: count for status, count in result.statuses.items()
             if status not in (200, 503)}
    began = min(result.sent.values())

    def per_second(tokens, at):
        """How many of `tokens` were at `at` inside the measured window, a second."""
        start = began + warmup
        return sum(1 for token in tokens if start <= at[token] < start + duration) / duration

    report.figure("overload: webhooks answered 200 / refused 503",
                  f"{len(answered)} / {len(refused)} ({per_second(answered, result.sent):.0f}"
                  f" / {per_second(refused, result.sent):.0f} a second)")
    lost = len(answered) - len(replied)
    report.figure("overload: replied / lost", f"{len(replied)} / {lost}", "lost 0", lost == 0)
    report.figure("overload: replies a second", f"{per_second(replied, replied_at):.0f}/s "
                  f"({connections} connections, LINE {latency * 1000:.0f} ms)")
    lag = [replied_at[token] - result.sent[token] for token in replied]
    total = sum(result.statuses.values())
    report.note(f"reply after its webhook p50 / p99 / max {stats.fmt_ms(stats.percentile(lag, 50))}"
                f" / {stats.fmt_ms(stats.percentile(lag, 99))} / "
                f"{stats.fmt_ms(max(lag) if lag else math.nan)}; refused but replied "
                f"{len(replied_at.keys() - answered)}; other answers {other}, "
                f"{result.errors} connections lost; LINE answered {data['status']}, at most "
                f"{stats.peak_rate(data['attempts'])} requests in any 1 s (by arrival)")
    report.note(f"bot CPU {1000 * window.cpu / max(1, total):.2f} ms per webhook, "
                f"{window.busy:.2f} cores busy")


def day(report, n=10000, interval=2.0, reasks=10, connections=64):
    """A whole day of N users, compressed (snooze interval `interval`): each sets a time by
    webhook, all on the same minute; at that minute every one is asked; half answer the
    first ask by webhook, the other half never (every re-ask, then the end of the round).
    Reports the rate of the setting webhooks and the bot's CPU for all of it."""
    with environment(latency=0.05) as (server, client, standin):
        ids = list(records.ids(n))
        with running_bot(server, standin, "bot-day", SNOOZE_INTERVAL_SECONDS=interval,
                         MAX_REASKS=reasks) as bot:
            bot.wait_healthy()
            cpu0 = bot.cpu_seconds()
            zone = records.BOT_ZONE
            due = math.ceil((time.time() + 20) / 60) * 60      # a whole minute 20-80 s away
            hour, minute = records.wall_time(due)
            setting = closed_loop(bot.port, WebhookFactory(bot.port, procs.SECRET, ids,
                                                           f"{hour}時{minute}分", once=True),
                                  connections, duration=600, warmup=0)
            phases = [("setting", bot.cpu_seconds())]
            set_seconds = max(setting.sent.values()) - min(setting.sent.values())
            report.figure(f"day {n}: users set their time by webhook",
                          f"{n / set_seconds:.0f}/s ({setting.statuses})", ">= 2000/s",
                          n / set_seconds >= 2000)
            _sleep_until(due)
            phases.append(("waiting for the minute", bot.cpu_seconds()))
            wait_for_pushes(standin, n, timeout=due - time.time() + 60)
            first_asks = time.time()
            phases.append(("first asks", bot.cpu_seconds()))
            answering = ids[: n // 2]
            closed_loop(bot.port, WebhookFactory(bot.port, procs.SECRET, answering, "飲んだ",
                                                 once=True), connections, duration=600,
                        warmup=0)
            phases.append(("answers", bot.cpu_seconds()))
            # The other half: every re-ask, then the end of their round.
            expected = n + (n - len(answering)) * reasks
            wait_for_pushes(standin, expected, timeout=(reasks + 2) * interval + 60)
            # The answering half may have had a re-ask too.
            wait_quiet(standin, 2 * interval)
            phases.append(("re-asks and the rounds' end", bot.cpu_seconds()))
            cpu = phases[-1][1] - cpu0
            pushes = standin.stats()["pushes"]
    report.figure(f"day {n}: bot CPU for the whole day", f"{cpu:.1f} s "
                  f"({pushes} asks, {n + len(answering)} webhooks; {zone.key})", "<= 15 s",
                  cpu <= 15)
    report.note(f"first asks all in {first_asks - due:.1f} s after the due minute")
    before = cpu0
    spent = []
    for phase, at in phases:
        spent.append(f"{phase} {at - before:.1f} s")
        before = at
    report.note("bot CPU by phase: " + ", ".join(spent))
