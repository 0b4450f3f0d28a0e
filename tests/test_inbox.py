"""Webhook events kept in Redis until handled (storage/events.py, actors/inbox.py): a process
killed after answering 200 loses nothing a user said, and nothing is applied twice. On one
Redis and on a Redis Cluster, where an event and its inbox are in the user's shard."""
from dataclasses import fields
from typing import Union, get_origin, get_type_hints

import gevent
import orjson
import redis
from redis.crc import key_slot

from chat import texts
from domain.rounds import Dose
from domain.user import UserRecord
from storage import events, keys
from storage.outage import StorageUnavailable
from storage.store import Store
from storage.users import Answering
from tests.support import advance_together
from tests.conftest import on_one_redis_and_a_cluster
from tests.support import all_keys

redis_client = on_one_redis_and_a_cluster()

AT = 1795734000.0
_CLUSTER = keys.Layout(keys.CLUSTER_SHARDS)
# One user in each shard of the cluster (on one Redis: all in its one shard).
ONE_PER_SHARD = list({_CLUSTER.shard_of(user): user for user in (
    f"U{n:032x}" for n in range(400))}.values())


def inbox_of(store, user_id) -> str:
    return store.keys.inbox(store.keys.shard_of(user_id))


def sent(store) -> None:
    """Wait until what the store sent without waiting (Pipeliner.send) has reached every
    master: a PING behind it in each shard's pipeline."""
    store.pipeliner.call_many([(lambda pipe: pipe.ping(), store.keys.inbox(shard))
                               for shard in range(store.keys.shards)])


# -- the store --------------------------------------------------------------------------------
def test_an_event_is_taken_in_once_held_by_one_process_and_finished(store, redis_client):
    store.users.save(UserRecord("U1", (Dose(8, 0, due=AT),)))
    taken = store.events.take_in("E1", "U1", ["ShowHelp", "token"], AT)
    assert taken.status == events.NEW and taken.record.times == ((8, 0),)
    assert store.events.stuck(AT + 1) == [("E1", AT, store.keys.shard_of("U1"))]
    other = Store(redis_client, token="p2")
    store.processes.heartbeat(store.token, 30)
    assert other.events.take_in("E1", "U1", ["ShowHelp", "token"], AT).status == events.HELD
    shard = store.keys.shard_of("U1")
    assert other.events.take_over("E1", AT, shard=shard) is None   # its holder is alive
    store.events.finish("E1", "U1")
    sent(store)                                      # the finish went before this
    assert store.events.stuck(AT + 1) == []
    assert other.events.take_in("E1", "U1", ["ShowHelp", "token"], AT).status == events.DONE
    assert 0 < redis_client.ttl(store.keys.webhook_event("E1", "U1")) <= events.EVENT_DEDUPE_TTL


def test_an_event_a_stopped_process_held_is_taken_over_with_what_it_says(store,
                                                                          redis_client):
    dead = Store(redis_client, token="dead")
    dead.events.take_in("E1", "U1", ["SetTimes", [[7, 0]]], AT)   # no heartbeat: it stopped
    shard = store.keys.shard_of("U1")
    taken = store.events.take_over("E1", AT + 6, shard=shard)
    assert taken.status == events.TAKEN_OVER
    assert taken.held == {"user": "U1", "message": ["SetTimes", [[7, 0]]]}
    store.processes.heartbeat(store.token, 30)
    other = Store(redis_client, token="p2")
    assert other.events.take_over("E1", AT + 6, shard=shard) is None   # now a live process's
    # A redelivery from LINE takes over the same way, at once.
    dead.events.take_in("E2", "U1", ["ShowHelp", "t"], AT)
    assert store.events.take_in("E2", "U1", ["ShowHelp", "t"], AT).status == \
        events.TAKEN_OVER


def test_a_save_answering_an_event_keeps_the_reply_it_owes(store, redis_client):
    dead = Store(redis_client, token="dead")
    dead.events.take_in("E1", "U1", ["SetTimes", [[7, 0]]], AT)
    owed = dead.events.applied("U1", "reply-token", [{"type": "text", "text": "はい"}])
    dead.users.save(UserRecord("U1", (Dose(7, 0),)), answering=Answering("E1", owed))
    taken = store.events.take_over("E1", AT + 6, shard=store.keys.shard_of("U1"))
    assert taken.held == {"user": "U1", "reply": ["reply-token",
                                                  [{"type": "text", "text": "はい"}]]}
    stale = UserRecord("U1", (Dose(9, 0),))                    # a conflicting save writes
    store.events.take_in("E2", "U1", ["SetTimes", [[9, 0]]], AT)
    try:
        store.users.save(stale, answering=Answering("E2", owed))
    except Exception:
        pass
    assert redis_client.get(store.keys.webhook_event("E2", "U1")).startswith(b"p ")  # nothing


def test_events_a_stopped_process_took_in_in_every_shard_are_found_and_taken_over(
        store, redis_client):
    dead = Store(redis_client, token="dead")
    for n, user in enumerate(ONE_PER_SHARD):
        dead.events.take_in(f"E{n}", user, ["ShowHelp", f"t{n}"], AT + n)
        if store.keys.cluster:  # the event, its user's record and its inbox share a slot
            assert len({key_slot(key.encode()) for key in (
                store.keys.webhook_event(f"E{n}", user), store.keys.user(user),
                inbox_of(store, user))}) == 1
    stuck = store.events.stuck(AT + len(ONE_PER_SHARD))
    assert sorted(stuck) == sorted((f"E{n}", AT + n, store.keys.shard_of(user))
                                   for n, user in enumerate(ONE_PER_SHARD))
    assert len({event.shard for event in stuck}) == store.keys.shards
    for event in stuck:
        n = int(event.event_id[1:])
        taken = store.events.take_over(event.event_id, AT + 60, shard=event.shard)
        assert taken.status == events.TAKEN_OVER
        assert taken.held == {"user": ONE_PER_SHARD[n], "message": ["ShowHelp", f"t{n}"]}
        store.events.finish(event.event_id, ONE_PER_SHARD[n])
    sent(store)
    assert store.events.stuck(AT + 60) == []


def test_saves_and_deletions_answering_events_in_every_shard_write_each_reply_owed(
        store, redis_client):
    dead = Store(redis_client, token="dead")
    owed, records = {}, []
    for n, user in enumerate(ONE_PER_SHARD):
        dead.events.take_in(f"E{n}", user, ["SetTimes", [[7, 0]]], AT)
        owed[user] = Answering(f"E{n}", dead.events.applied(user, f"token-{n}", [
            {"type": "text", "text": f"はい{n}"}]))
        records.append(UserRecord(user, (Dose(7, 0),)))
    assert dead.users.save_many(records, answering=owed).conflicts == []   # one call a shard
    for n, user in enumerate(ONE_PER_SHARD):
        assert redis_client.get(store.keys.webhook_event(f"E{n}", user)) == owed[user].value
        taken = store.events.take_over(f"E{n}", AT + 6, shard=store.keys.shard_of(user))
        assert taken.held == {"user": user, "reply": [f"token-{n}", [
            {"type": "text", "text": f"はい{n}"}]]}
    # ばいばい and an unfollow answer their event in the same transaction as the deletion.
    first, second = ONE_PER_SHARD[:2]
    for n, (user, remove) in enumerate([(first, dead.users.delete),
                                        (second, dead.users.forget)]):
        dead.events.take_in(f"D{n}", user, ["Goodbye", "t"], AT)
        value = dead.events.applied(user, None, [])
        remove(user, Answering(f"D{n}", value))
        assert redis_client.get(store.keys.webhook_event(f"D{n}", user)) == value
        assert store.users.load(user) is None


# -- through the bot -------------------------------------------------------------------------
def dies_after_taking_in(bot, monkeypatch):
    """The process dies right after the edge took an event in and answered 200."""
    monkeypatch.setattr(bot.system.inbox, "_hand_on", lambda *args, **kwargs: None)


def killed_in(first, owner, name, user_id, text, monkeypatch):
    """`first` takes in `text` from `user_id` (200) and is killed, as SIGKILL would, while its
    actor is inside `owner.name`."""
    reached, never = gevent.event.Event(), gevent.event.Event()

    def stuck(*args, **kwargs):
        reached.set()
        never.wait()                               # until the kill

    monkeypatch.setattr(owner, name, stuck)
    first.platform.webhook_url = first.url
    assert first.platform.send_text(user_id, text) == 200
    assert reached.wait(5)
    stopped(first)


def stopped(bot):
    """Kill `bot` as SIGKILL would; its heartbeat is gone (it expires on Redis's clock)."""
    token = bot.system.token
    bot.kill()
    bot.store.redis.delete(bot.store.keys.alive(token))


def test_a_message_taken_in_by_a_process_killed_before_handling_it_is_handled_by_another(
        make_bot, user_id, monkeypatch):
    first = make_bot()
    second = make_bot()
    dies_after_taking_in(first, monkeypatch)
    first.say(user_id, "7時")                      # 200: taken in, then the process died
    assert [r for r in first.platform.replies if r.to == user_id] == []
    stopped(first)
    second.advance(seconds=6)
    assert second.system.inbox.sweep() == 1
    second.timer.settle()
    assert second.last_reply(user_id) == (texts.times_set([(7, 0)]),)
    assert second.store.users.load(user_id).times == ((7, 0),)
    assert second.system.inbox.sweep() == 0        # finished: nothing left behind


def test_events_of_every_shard_left_by_a_killed_process_are_handled_by_another(
        make_bot, monkeypatch):
    first = make_bot()
    second = make_bot()
    dies_after_taking_in(first, monkeypatch)
    for user in ONE_PER_SHARD:
        first.say(user, "7時")                     # 200: taken in, then the process died
    stopped(first)
    second.advance(seconds=6)
    assert second.system.inbox.sweep() == len(ONE_PER_SHARD)   # every shard's inbox
    second.timer.settle()
    for user in ONE_PER_SHARD:
        assert second.last_reply(user) == (texts.times_set([(7, 0)]),)
        assert second.store.users.load(user).times == ((7, 0),)
    assert second.system.inbox.sweep() == 0


def test_a_change_saved_by_a_process_killed_before_its_reply_is_replied_once(
        make_bot, user_id, monkeypatch):
    first = make_bot()
    second = make_bot()
    first.say(user_id, "8時")
    killed_in(first, first.outbox, "reply", user_id, "8時の薬は血圧の薬", monkeypatch)
    # LINE redelivers (no 200 came? it came: either way), and the sweep finds it too.
    second.advance(seconds=6)
    assert second.system.inbox.sweep() == 1
    second.timer.settle()
    replies = [r.texts for r in second.platform.replies if r.to == user_id]
    assert replies[-1] == ("8時0分の薬を「血圧の薬」にしました。",)
    assert replies.count(replies[-1]) == 1
    assert second.store.users.load(user_id).doses[0].name == "血圧の薬"


def test_a_redelivery_of_an_event_in_hand_or_handled_is_not_handled_again(
        bot, user_id, platform):
    bot.say(user_id, "7時")
    event = platform.make_text_event(user_id, "8時も")
    held = gevent.event.Event()
    real = bot.store.users.save_many

    def slow(*args, **kwargs):
        held.wait(5)
        return real(*args, **kwargs)

    bot.store.users.save_many = slow
    assert platform.post_events([event]) == 200
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    assert platform.post_events([redelivered]) == 200   # in hand: answered, not handled
    held.set()
    bot.timer.settle()
    assert platform.post_events([redelivered]) == 200   # handled: a duplicate
    bot.timer.settle()
    added = [r for r in platform.replies if r.to == user_id and "追加" in r.texts[0]]
    assert len(added) == 1
    assert bot.store.users.load(user_id).times == ((7, 0), (8, 0))
    del bot.store.users.save_many


def test_what_is_kept_while_handled_is_only_what_the_message_says(bot, user_id):
    bot.say(user_id, "7時")
    [kept] = all_keys(bot.store.redis, "usa:*event:*")
    assert kept.decode() == bot.store.keys.webhook_event(kept.decode().rsplit(":", 1)[1],
                                                         user_id)   # in the user's shard
    assert bot.store.redis.get(kept) == b"d"       # handled: only that it was
    assert bot.store.redis.zcard(inbox_of(bot.store, user_id)) == 0


def test_every_message_from_the_chat_is_read_back_as_it_was_kept():
    from actors import messages, requests, watching
    from domain.days import DayWords
    samples = {int: 7, float: 35.5, str: "x", bool: True, tuple: ((8, 0),),
               type(None): None}
    for cls in set(requests.HANDLERS) | set(watching.HANDLERS):
        hints = get_type_hints(cls)
        values = {}
        for field in fields(cls):
            hint = hints[field.name]
            if field.name == "time":
                values[field.name] = (21, 30)
            elif "DayWords" in str(hint):
                values[field.name] = DayWords(weekdays=5)
            else:
                kind = get_origin(hint) or hint
                values[field.name] = samples.get(kind, "x") if kind is not Union else "x"
        message = cls(**values)
        kept = orjson.loads(orjson.dumps(messages.encode(message)))
        assert messages.decode(kept) == message, cls.__name__


def test_an_answer_left_behind_by_a_killed_process_is_heard_before_the_next_reask(
        make_bot, user_id, monkeypatch):
    first = make_bot()
    first.say(user_id, "6時10分")
    second = make_bot()
    advance_together([first.timer, second.timer], 10 * 60)     # 6:10: 飲んだ? on the phone
    advance_together([first.timer, second.timer], 9 * 60 + 58)  # 6:19:58
    dies_after_taking_in(first, monkeypatch)
    first.say(user_id, "飲んだ")                    # 200: taken in, then the process died
    stopped(first)
    second.advance(seconds=4)                        # 6:20:02: the re-ask is due ...
    assert second.pushed_texts(user_id) == ["飲んだ?"]   # ... and waits for the answer
    second.advance(seconds=2)
    assert second.system.inbox.sweep() == 1           # the answer, taken over
    second.advance(seconds=2)
    assert second.last_reply(user_id) == (texts.WELL_DONE,)
    second.advance(hours=2)
    assert second.pushed_texts(user_id) == ["飲んだ?"]   # no re-ask of an answered round


def test_a_redelivery_of_an_event_whose_take_in_answer_was_lost_is_handled_at_once(
        bot, user_id, platform, monkeypatch):
    real = bot.store.events.take_in

    def answer_lost(*args):                        # taken in, then the connection broke
        real(*args)
        raise StorageUnavailable("the answer was lost")

    monkeypatch.setattr(bot.store.events, "take_in", answer_lost)
    event = platform.make_text_event(user_id, "7時")
    assert platform.post_events([event]) == 503    # LINE delivers it again
    monkeypatch.undo()
    assert platform.post_events([dict(event, deliveryContext={"isRedelivery": True})]) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == (texts.times_set([(7, 0)]),)
    assert bot.store.users.load(user_id).times == ((7, 0),)
    assert bot.system.inbox.sweep() == 0           # finished


def test_an_event_whose_finish_was_lost_holds_no_ask_back_and_is_taken_over(
        bot, user_id, monkeypatch):
    bot.say(user_id, "6時10分")

    def lost(*args, **kwargs):
        raise redis.exceptions.ConnectionError("the connection broke")

    monkeypatch.setattr(bot.store.events, "_finish", lost)   # lost on the way to Redis
    bot.say(user_id, "設定教えて")
    monkeypatch.undo()
    bot.advance(minutes=10, seconds=2)             # 6:10:02
    assert bot.pushed_texts(user_id) == ["飲んだ?"]  # on time
    assert bot.system.inbox.sweep() == 1           # its own, in hand no more
    bot.timer.settle()
    assert bot.system.inbox.sweep() == 0
    assert bot.store.redis.zcard(bot.store.keys.unhandled(user_id)) == 0


def test_a_reply_owed_that_cannot_be_sent_is_given_up_and_its_event_finished(
        make_bot, user_id, monkeypatch):
    first = make_bot()
    second = make_bot()
    monkeypatch.setattr(first.outbox, "reply", lambda *args, **kwargs: None)  # never sent
    monkeypatch.setattr(first.store.events, "finish", lambda *args: None)   # killed first
    first.say(user_id, "8時")
    stopped(first)

    def broken(*args, **kwargs):
        raise RuntimeError("the outbox failed")

    monkeypatch.setattr(second.outbox, "reply", broken)
    second.advance(seconds=6)
    assert second.system.inbox.sweep() == 1
    second.timer.settle()
    assert second.system.inbox.sweep() == 0
    assert second.store.events.stuck(second.timer.now()) == []   # finished, not in hand for ever


def test_a_message_cut_short_by_a_stop_is_left_to_another_process(make_bot, user_id,
                                                                  monkeypatch):
    first = make_bot()
    second = make_bot()
    first.say(user_id, "7時")
    killed_in(first, first.store.users, "save", user_id, "8時も", monkeypatch)
    second.advance(seconds=6)
    assert second.system.inbox.sweep() == 1
    second.timer.settle()
    assert second.store.users.load(user_id).times == ((7, 0), (8, 0))


def test_a_redelivery_while_the_first_delivery_is_still_taken_in_is_refused_not_lost(
        bot, user_id, platform, monkeypatch):
    real, waiting, go_on = bot.store.events.take_in, gevent.event.Event(), gevent.event.Event()

    def slow(*args):                               # Redis stalls on the first delivery
        waiting.set()
        go_on.wait(5)
        return real(*args)

    monkeypatch.setattr(bot.store.events, "take_in", slow)
    event = platform.make_text_event(user_id, "7時")
    first = gevent.spawn(platform.post_events, [event])
    assert waiting.wait(5)
    # LINE gave up waiting and delivers it again: refused, since the first may yet fail.
    assert platform.post_events([dict(event, deliveryContext={"isRedelivery": True})]) == 503
    go_on.set()
    assert first.get(timeout=5) == 200
    bot.timer.settle()
    assert [r.texts for r in platform.replies if r.to == user_id] == [
        (texts.times_set([(7, 0)]),)]
