from redis.crc import key_slot

from storage import keys


def test_one_redis_keeps_the_key_names_it_always_had():
    one = keys.ONE_REDIS
    assert one.user("U1") == "usa:user:U1"
    assert one.ask_claim("U1", 1795734000.0, 3) == "usa:ask:U1:1795734000:3"
    assert one.history("U1") == "usa:log:U1"
    assert one.due() == "usa:due"
    assert one.batch(0, "b1") == "usa:batch:b1"
    assert one.batch_lease(0, "b1") == "usa:batch:b1:lease"
    assert one.batch_sent(0, "b1") == "usa:batch:b1:sent"
    assert one.webhook_event("01HX") == one.webhook_event("01HX", "U1") == "usa:event:01HX"
    assert one.event_in(0, "01HX") == "usa:event:01HX"
    assert one.inbox() == "usa:inbox"
    assert one.alert_claim("U1", "missed:1", "W1") == "usa:alert:U1:missed:1:W1"
    assert one.watch_code("012345") == "usa:watch:code:012345"
    assert one.watchers("U1") == "usa:watch:watchers:U1"
    assert one.watching("U1") == "usa:watch:watching:U1"
    assert one.watching_since("U1") == "usa:watch:since:U1"
    assert one.pushes_in("2026-12") == "usa:pushes:2026-12"
    assert one.alerts_in("2026-12") == "usa:alerts:2026-12"
    assert one.alive("t") == "usa:alive:t"
    assert one.user_pattern == "usa:user:*"
    assert {one.shard_of(f"U{n}") for n in range(100)} == {0}


def test_on_a_cluster_every_key_of_a_user_and_of_their_shard_shares_one_slot():
    cluster = keys.Layout(keys.CLUSTER_SHARDS)
    user = "U" + "ab" * 16
    shard = cluster.shard_of(user)
    slots = {key_slot(key.encode()) for key in (
        cluster.user(user), cluster.history(user), cluster.ask_claim(user, 1.0, 0),
        cluster.alert_claim(user, "missed:1", "W1"), cluster.webhook_event("01HX", user),
        cluster.event_in(shard, "01HX"), cluster.inbox(shard),
        cluster.watch_code_of(user), cluster.watchers(user), cluster.watching(user),
        cluster.watching_since(user), cluster.watch_failures(user), cluster.due(shard), cluster.batch(shard, "b1"),
        cluster.batch_lease(shard, "b1"), cluster.batch_sent(shard, "b1"),
        cluster.pushes_in("2026-12", shard), cluster.alerts_in("2026-12", shard))}
    assert len(slots) == 1
    assert cluster.user(user) == f"usa:{{{cluster.tags[shard]}}}:user:{user}"
    assert cluster.webhook_event("01HX", user) == cluster.event_in(shard, "01HX")
    assert cluster.webhook_event("01HX") == "usa:event:01HX"   # from no user: apart


def test_cluster_shards_spread_evenly_over_the_slots_and_users_over_the_shards():
    cluster = keys.Layout(keys.CLUSTER_SHARDS)
    width = 16384 / keys.CLUSTER_SHARDS
    # Shard i's slot is in the i-th range: 3 masters of equal ranges serve 5 or 6 shards each.
    assert [int(key_slot(cluster.due(i).encode()) // width) for i in range(cluster.shards)] == \
        list(range(cluster.shards))
    counts = [0] * cluster.shards
    for n in range(16000):
        counts[cluster.shard_of(f"U{n:032x}")] += 1
    assert min(counts) > 800 and max(counts) < 1200
    # A watch code says its owner's shard.
    assert cluster.code_shard("000017") == 1
    assert key_slot(cluster.watch_code("000017").encode()) == key_slot(cluster.due(1).encode())
