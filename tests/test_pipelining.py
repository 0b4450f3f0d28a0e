"""Auto-pipelining (storage/pipelining.py): commands of one moment share a round trip, and
each caller still gets its own answer or error."""
import itertools

import gevent
import redis as redis_py
from gevent.event import Event

from storage.pipelining import Pipeliner


def test_an_error_in_one_pipelined_command_reaches_only_its_caller(redis_client):
    pipeliner = Pipeliner(redis_client)
    redis_client.set("text", "not a number")
    bad = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("text"))
    good = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("counter"))
    gevent.joinall([bad, good])
    assert isinstance(bad.exception, redis_py.ResponseError)
    assert good.value == 1
    alone = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("text"))
    alone.join()
    assert isinstance(alone.exception, redis_py.ResponseError)


def test_pipelined_commands_of_one_moment_share_a_round_trip(redis_client, monkeypatch):
    pipeliner = Pipeliner(redis_client)
    sent = []
    real_pipeline = redis_client.pipeline
    monkeypatch.setattr(redis_client, "pipeline", lambda **kw: sent.append(1) or real_pipeline(**kw))
    together = [gevent.spawn(pipeliner.call, lambda pipe, n=n: pipe.incrby("sum", n))
                for n in range(1, 51)]
    gevent.joinall(together)
    assert sorted(g.value for g in together)[-1] == sum(range(1, 51))
    # each caller gets its own command's answer, in the order they came
    assert [g.value for g in together] == list(itertools.accumulate(range(1, 51)))
    assert len(sent) == 1                          # one pipeline for the 50
    assert pipeliner.call(lambda pipe: pipe.get("sum")) == b"1275"   # alone: no pipeline
    assert len(sent) == 1


def test_pipelined_scripts_are_checked_once_and_again_only_if_redis_forgot_them(redis_client):
    pipeliner = Pipeliner(redis_client)
    add = redis_client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")

    def together(n):
        callers = [gevent.spawn(pipeliner.call, lambda pipe, i=i: add(
            keys=["sum"], args=[i], client=pipe)) for i in range(1, n + 1)]
        gevent.joinall(callers, raise_error=True)
        return [caller.value for caller in callers]

    def script_checks():                         # Redis 7 counts subcommands apart
        return sum(stat["calls"] for name, stat in redis_client.info("commandstats").items()
                   if name.startswith("cmdstat_script"))

    assert together(3) == [1, 3, 6]
    checks = script_checks()
    assert together(3) == [7, 9, 12] and script_checks() == checks   # no SCRIPT EXISTS again
    redis_client.script_flush()                  # as a restarted Redis would have forgotten
    checks = script_checks()
    plain = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("plain"))
    assert together(3) == [13, 15, 18]           # each caller's once, nothing run twice:
    assert plain.get(timeout=5) == 1             # not the plain command sent with them either
    assert script_checks() > checks


def test_a_caller_killed_while_sending_its_batch_leaves_nobody_waiting(redis_client):
    pipeliner = Pipeliner(redis_client)
    sending = Event()
    leader = gevent.spawn(pipeliner.call,
                          lambda pipe: sending.set() or pipe.blpop("never", timeout=5))
    others = [gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("counter")) for _ in range(3)]
    assert sending.wait(timeout=5)       # the leader took the others into its batch: on the wire
    leader.kill()
    gevent.joinall(others, timeout=5)
    assert all(isinstance(g.exception, redis_py.ConnectionError) for g in others)
    later = gevent.spawn(pipeliner.call, lambda pipe: pipe.incr("counter"))
    assert later.get(timeout=5) >= 1     # the pipeliner still works
