"""What a user costs in Redis: `python -m bench.record_cost [USERS]`. First the history (記録),
then the user's record with 1 and with 3 daily times, with their place in the due index.

Fills a private Redis with USERS users' records as the bot keeps them, every day cell of the
ring used (the state after 96 days; the number of daily times does not change the size),
and prints used_memory per user and the projection to 1M users. The cells are written by the
bot's own script (Store.save with outcome changes) for a sample of users, checked, and then
copied byte for byte for the rest with a pipeline."""
import sys
import time
from datetime import date, timedelta

from bench import records as bench_records
from bench.procs import private_redis
from domain.history import TallyChange
from domain.rounds import Dose, RoundState
from domain.user import UserRecord
from storage import history, keys
from storage.store import Store, connect


def main(argv=None):
    users = int((argv or sys.argv[1:] or ["100000"])[0])
    with private_redis("record-cost") as server:
        client = connect(server.url)
        store = Store(client)
        before = client.info("memory")["used_memory"]
        sample = "U" + "0" * 32
        record = UserRecord(sample, (Dose(8, 0), Dose(20, 0)))
        first = date(2026, 1, 1)
        for offset in range(history.RING_DAYS):
            day = (first + timedelta(days=offset)).isoformat()
            # two rounds a day: one taken, one missed and answered late on some days
            record = store.users.save(record, [
                TallyChange(day, RoundState.TAKEN, +1),
                TallyChange(day, RoundState.LATE if offset % 7 else RoundState.MISSED, +1)])
        ring = client.get(keys.ONE_REDIS.history(sample))
        assert len(store.users.history(sample)) == history.RING_DAYS
        client.delete(keys.ONE_REDIS.user(sample))
        with_users = client.info("memory")["used_memory"]
        pipe = client.pipeline(transaction=False)
        for i in range(1, users):
            pipe.set(keys.ONE_REDIS.history(f"U{i:032x}"), ring)
            if i % 10000 == 0:
                pipe.execute()
        pipe.execute()
        after = client.info("memory")["used_memory"]
        per_user = (after - before) / users
        print(f"record ring: {len(ring)} bytes of cells per user "
              f"({history.RING_DAYS} days x 4 bytes), MEMORY USAGE of one key: "
              f"{client.memory_usage(keys.ONE_REDIS.history(sample))} bytes")
        print(f"{users} users: used_memory +{(after - before) / 2 ** 20:.1f} MiB, "
              f"{per_user:.0f} bytes per user; 1M users: {per_user * 1e6 / 2 ** 20:.0f} MiB "
              f"(the first user alone: +{with_users - before} bytes)")
        client.flushdb()
        now = time.time()
        for times in (1, 3):
            before = client.info("memory")["used_memory"]
            bench_records.write(client, (bench_records.idle_record(uid, now, times)
                                         for uid in bench_records.ids(users)))
            grown = (client.info("memory")["used_memory"] - before) / users
            print(f"a user with {times} time{'s' * (times > 1)} (their record and their place "
                  f"in the due index): {grown:.0f} bytes; 1M users: {grown * 1e6 / 2 ** 20:.0f} "
                  f"MiB")
            client.flushdb()
        client.close()


if __name__ == "__main__":
    main()
