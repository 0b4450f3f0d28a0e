"""The whole bot on the local Redis Cluster (3 masters, 3 replicas): users of every shard asked
together, one request per shard and ask; a master killed mid-round, its replica taking over,
and the round going on with nothing asked twice."""
import logging

import pytest

from storage.redis_server import wait_until
from tests.support import new_user_id


@pytest.fixture
def redis_client(cluster_client):
    return cluster_client


def test_users_of_every_shard_due_together_are_asked_once_one_request_per_shard(bot):
    users = [new_user_id() for _ in range(48)]
    for user in users:
        bot.say(user, "6時10分")
    bot.advance(minutes=10)
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)
    shards = {bot.store.keys.shard_of(user) for user in users}
    requests = [r for r in bot.platform.requests if r.path.endswith(("/push", "/multicast"))]
    assert len(requests) == len(shards)            # asks of one shard share a request
    bot.advance(minutes=10)
    assert all(bot.pushed_texts(user) == ["飲んだ?", "飲んだ??"] for user in users)


def test_a_master_killed_mid_round_hands_over_to_its_replica_and_nothing_is_asked_twice(
        bot, redis_cluster, user_id, caplog):
    keyslot = bot.store.redis.keyslot(bot.store.keys.user(user_id))
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)                        # the first ask
    master = redis_cluster.master_serving(keyslot)
    redis_cluster.kill(master)
    caplog.set_level(logging.WARNING, logger="storage.store")
    try:
        bot.advance(minutes=10)                    # re-ask 1 falls due during the failover
        wait_until("the replica to take over",
                   lambda: redis_cluster.master_serving(keyslot) not in (None, master), 30)
        for _ in range(30):                        # retried every second until it is back
            if bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]:
                break
            bot.advance(seconds=1)
        assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]
        bot.say(user_id, "飲んだ")
        bot.advance(hours=2)
        assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]
        # The other masters answered all along, and dozens of calls failed: a line or two,
        # not one per call (the heartbeat's real clock and the test's manual one interleave).
        lines = [r.getMessage() for r in caplog.records if r.name == "storage.store"]
        assert 1 <= sum(line.startswith("Redis unavailable") for line in lines) <= 2
    finally:
        redis_cluster.restart(master)              # back, as the new master's replica
        wait_until("the old master to rejoin as a replica", redis_cluster.healthy, 30)




def test_a_start_on_a_cluster_node_without_redis_cluster_is_refused(redis_cluster, capsys):
    import runtime
    from startup import StartRefused

    with pytest.raises(StartRefused, match="a node of a Redis Cluster"):
        runtime.check_redis(redis_cluster.url)
    assert "Fix: set REDIS_CLUSTER=1" in capsys.readouterr().err
    runtime.check_redis(redis_cluster.url, cluster=True)     # as the bot connects: it answers
