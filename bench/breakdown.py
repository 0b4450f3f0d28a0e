"""Where one ask's CPU goes, measured by parts (`python -m bench.breakdown [N]`).

In this process (gevent-patched), on a private Redis and the lean stand-in (0 ms latency),
each part runs N times in a row and prints its CPU time per call (time.process_time, this
process only; the stand-in and Redis are other processes). Sequential calls include one
gevent hub round trip per network wait, as in the bot. cProfile cannot attribute time
across greenlet switches; subtracting measured parts can.

An ask alone (actors/user.py `_reminder_due` -> `_run_round` -> actors/asks.py) is: Store.claim_batch
of one user (one EVALSHA), LineOutbox.push (limiter, slot, outbox.http), then
Store.save and Store.finish_batch in one pipeline, plus the actor's own decisions. Asks due
together go as a group without an actor each (actors/together.py): one claim_batch, one
multicast and one Store.save_many for 500 users; the same 500 through their actors are
timed beside it. The rows after them time one push by parts, and the SDK's HTTP client that
the outbox used before (the sdk-http variant) for comparison.
"""
import sys
import time
import uuid


def cpu_per_call(function, n):
    begin = time.process_time()
    for i in range(n):
        function(i)
    return (time.process_time() - begin) / n


def webhook_parts(row, n, ids, runtime):
    """One signed single-text webhook: the edge's parts, then the whole app plus the reply."""
    import io

    import gevent

    import inbound
    from bench import procs
    from bench.webhooks import text_event_body
    from simulator.signing import sign
    from web import create_app

    bodies = [text_event_body(ids[i % len(ids)], "設定教えて", uuid.uuid4().hex)
              for i in range(n)]
    signatures = [sign(procs.SECRET, body) for body in bodies]
    print("one webhook (設定教えて, needs a reply):")
    row("  inbound.signature_ok", cpu_per_call(
        lambda i: inbound.signature_ok(procs.SECRET, bodies[i], signatures[i]), n))
    row("  inbound.parse_webhook (webhook_events)", cpu_per_call(
        lambda i: inbound.parse_webhook(bodies[i]), n))
    row("  Store.first_delivery (Redis SET NX EX)", cpu_per_call(
        lambda i: runtime.store.events.first_delivery(f"bench-{uuid.uuid4()}"), n))
    system = runtime.system
    system.awake.clear()   # the ask rows above left stopped actors behind
    system.ready.set()
    app = create_app(channel_secret=procs.SECRET, system=system, store=runtime.store,
                     outbox=runtime.outbox)

    def call(i):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/callback", "SERVER_NAME": "x",
                   "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                   "CONTENT_TYPE": "application/json; charset=utf-8",
                   "CONTENT_LENGTH": str(len(bodies[i])), "wsgi.input": io.BytesIO(bodies[i]),
                   "HTTP_X_LINE_SIGNATURE": signatures[i]}
        b"".join(app(environ, lambda status, headers, exc_info=None: None))
        if i % 50 == 49:
            system.wait_quiet(10)   # let the actors send their replies

    begin = time.process_time()
    for i in range(n):
        call(i)
    system.wait_quiet(10)
    gevent.sleep(0.1)
    row("  whole: WSGI app (bottle, edge, tell) + actor + reply",
        (time.process_time() - begin) / n)


def due_loading_parts(row, store, batch=500):
    """What the scheduler does per due user: take them from the due index (a lease at a time),
    MGET their records, decode them."""
    import orjson

    from storage import keys, records

    _, n = store.due.head(0)
    print("due users taken and loaded (Scheduler), per user:")
    begin = time.process_time()
    taken = []
    while True:
        claimed, _ = store.due.claim(time.time() + 10 ** 6, 5, batch)
        if not claimed:
            break
        taken += claimed
    row(f"  Store.claim_due ({batch} at a time)", (time.process_time() - begin) / n)
    begin = time.process_time()
    raws = [raw for i in range(0, n, batch)
            for raw in store.redis.mget([keys.ONE_REDIS.user(uid) for uid in taken[i:i + batch]])]
    row(f"  MGET ({batch} keys each)", (time.process_time() - begin) / n)
    begin = time.process_time()
    [orjson.loads(raw) for raw in raws]
    row("  orjson.loads", (time.process_time() - begin) / n)
    begin = time.process_time()
    [records.decode(uid, raw) for uid, raw in zip(taken, raws)]
    row("  records.decode (orjson + rounds)", (time.process_time() - begin) / n)


def main(argv=None):
    from gevent import monkey
    monkey.patch_all()

    import gevent

    from actors.messages import ReminderDue
    from storage.batches import AskKey
    from bench import procs, records, variants
    from chat import texts
    from outbox import line
    from runtime import build_runtime
    from settings import Settings

    together = line.MULTICAST_MAX  # users asked in one multicast
    n = max(int((argv or sys.argv[1:] or ["1000"])[0]), together)

    def row(what, seconds):
        print(f"{what:<62} {seconds * 1e6:7.0f} us")
        sys.stdout.flush()
        return seconds

    with procs.private_redis("breakdown") as server:
        standin = procs.StandInProcess()
        try:
            settings = Settings(channel_secret=procs.SECRET, channel_access_token=procs.TOKEN,
                                redis_url=server.url, line_api_base_url=standin.base_url)
            runtime = build_runtime(settings)
            store, outbox, system = runtime.store, runtime.outbox, runtime.system
            now = time.time()
            ids = list(records.ids(n))
            records.write(store.redis, (records.reask_record(uid, now - 1) for uid in ids))
            loaded_by_id = dict(zip(ids, store.users.load_many(ids)))
            first = store.users.load(ids[0]).doses[0]
            round_at = first.at
            buttons = texts.ask_buttons(round_at)
            waking = system.scheduler._waking

            def ask(i):
                waking.acquire()          # what the scheduler takes before it wakes the actor
                actor = system._actor(ids[i], loaded_by_id[ids[i]])
                actor.on_receive(ReminderDue())
                actor._stopped = True

            def asked_together(r):
                gevent.joinall([gevent.spawn(ask, r * together + j) for j in range(together)])

            def asked_as_a_group(r):
                users = ids[r * together:(r + 1) * together]
                for _ in users:
                    waking.acquire()      # as the scheduler does, one slot a user
                system.together.wake([(uid, loaded_by_id[uid]) for uid in users])
                system.wait_quiet()

            print(f"one ask, {n} users, sequential (stand-in latency 0):")
            whole = row("whole ask alone: UserActor.on_receive(ReminderDue)", cpu_per_call(ask, n))
            loaded = [store.users.load(uid) for uid in ids]
            claim = row("  AskBatches.claim of one (version check + claim + batch, one EVALSHA)",
                        cpu_per_call(lambda i: store.batches.claim(
                            str(uuid.uuid4()), AskKey(5, round_at), [loaded[i]], 30, 0.0), n))
            push = row("  LineOutbox.push (limiter, slot, HTTP)",
                       cpu_per_call(lambda i: outbox.push(ids[i], [texts.ask(2)],
                                                          str(uuid.uuid4()), buttons), n))
            save = row("  Users.save alone (one EVALSHA through the pipeliner)",
                       cpu_per_call(lambda i: store.users.save(loaded[i]), n))
            row("  (AskBatches.finish alone; in an ask it shares the save's round trip)",
                cpu_per_call(lambda i: store.batches.finish(str(uuid.uuid4()), True), n))
            row("  rest: actor, records, schedule (whole - parts above)",
                whole - claim - push - save)
            row("  (Redis GET Users.load, for comparison)",
                cpu_per_call(lambda i: store.users.load(ids[i]), n))
            row("  (Redis PING, the cheapest round trip)",
                cpu_per_call(lambda i: store.redis.ping(), n))

            print(f"asks due together ({together} users, one multicast), per user:")
            doses = n // together
            records.write(store.redis, (records.reask_record(uid, now - 1) for uid in ids))
            loaded_by_id.update(zip(ids, store.users.load_many(ids)))
            system.awake.clear()
            row(f"  whole ask, {together} as a group (actors/together.py)",
                cpu_per_call(asked_as_a_group, doses) / together)
            records.write(store.redis, (records.reask_record(uid, now - 1) for uid in ids))
            loaded_by_id.update(zip(ids, store.users.load_many(ids)))
            row(f"  (the same, {together} actors at once)",
                cpu_per_call(asked_together, doses) / together)
            batch = [store.users.load(uid) for uid in ids[:together]]
            row(f"  AskBatches.claim of {together}", cpu_per_call(
                lambda i: store.batches.claim(str(uuid.uuid4()), AskKey(6 + i, round_at), batch,
                                              30, 0.0), doses) / together)
            recipients = ids[:together]
            row(f"  LineOutbox.multicast to {together}", cpu_per_call(
                lambda i: outbox.multicast(recipients, [texts.ask(0)], str(uuid.uuid4()),
                                           buttons), doses) / together)
            row(f"  Users.save_many of {together} (one call)", cpu_per_call(
                lambda i: store.users.save_many(batch), doses) / together)
            print(f"  (the stand-in saw {standin.stats()['pushes']} pushes incl. multicast "
                  "recipients)")
            standin.reset()

            print("one push, by parts:")
            body = {"to": ids[0], "messages": line._messages((texts.ask(2),), buttons),
                    "notificationDisabled": False}
            payload = line.dumps(body)
            transport = outbox.transport
            post = row("  outbox.http LineHttp.post of a ready body (HTTP)", cpu_per_call(
                lambda i: transport.post(line.PUSH_PATH, payload, 5, (
                    ("X-Line-Retry-Key", str(uuid.uuid4())),)), n))
            row("    json.dumps(body) (outbox.http.dumps)", cpu_per_call(
                lambda i: line.dumps(body), n))
            row("  outbox around the HTTP call (push - post)", push - post)
            sdk = variants.SdkHttp(standin.base_url, procs.TOKEN, concurrency=4)
            row("  before: the SDK's ApiClient.call_api (sdk-http variant)", cpu_per_call(
                lambda i: sdk.post(line.PUSH_PATH, payload, 5, (
                    ("X-Line-Retry-Key", str(uuid.uuid4())),)), n))
            row("  LineOutbox.reply incl. HTTP",
                cpu_per_call(lambda i: outbox.reply(uuid.uuid4().hex, ["x"]), n))

            due_loading_parts(row, store)
            standin.reset()
            webhook_parts(row, n, ids, runtime)
            print(f"  (the stand-in saw {standin.stats()['replies']} replies)")
            runtime.close()
        finally:
            standin.stop()


if __name__ == "__main__":
    main()
