"""Users due together with a plain ask are asked as a group (actors/together.py): one claim,
one multicast, one save for all of them. Whatever the group cannot finish goes to the user's
actor, and the user still sees each ask once."""
import gevent
from gevent.event import Event

from actors import user as user_actor
from actors.asks import SHOWN, AskBatcher
from actors.messages import ShowHelp
from actors.system import MAX_WAKING
from domain.wakeup import plain_wakeup
from domain.wallclock import zone
from simulator.line_api import MULTICAST_PATH, PUSH_PATH
from storage.store import Store
from tests.conftest import WHOLE_DAY
from storage import keys
from tests.support import (
    asks_seen_once, count_calls, crowd, edit_record, send_paths, watched_by,
)

TOKYO = zone("Asia/Tokyo")


def test_a_crowd_is_claimed_sent_and_saved_once_for_all(bot, monkeypatch):
    users = crowd(bot, 30)
    claims = count_calls(monkeypatch, bot.store.batches, "claim")
    saves_together = count_calls(monkeypatch, bot.store.users, "save_many")
    saves_alone = count_calls(monkeypatch, bot.store.users, "save")
    woken = count_calls(monkeypatch, bot.system, "wake")
    bot.advance(minutes=10)
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)
    assert send_paths(bot.platform) == [MULTICAST_PATH]
    assert len(claims) == 1 and len(saves_together) == 1 and saves_alone == []
    assert woken == []                           # no actor was woken for any of them
    bot.advance(hours=3)                         # and their whole day goes on together:
    assert all(bot.pushed_texts(user) == WHOLE_DAY for user in users)
    assert bot.gaps(users[0]) == [600] * 10
    assert len(claims) == 11 and saves_alone == [] and woken == []  # 11 asks, the end
    assert bot.system.scheduler.waking == MAX_WAKING   # every waking slot was given back


def test_a_record_changed_while_the_group_asks_goes_to_the_actor_and_is_asked_once(
        bot, monkeypatch):
    users = crowd(bot, 3)
    changed = users[1]
    other_process = Store(bot.store.redis)
    real_save_many = bot.store.users.save_many

    def save_many(records, *args):
        # Another process writes this user's record between the group's claim and its save.
        if len(records) == len(users):
            other_process.users.save(other_process.users.load(changed))
        return real_save_many(records, *args)

    monkeypatch.setattr(bot.store.users, "save_many", save_many)
    woken = count_calls(monkeypatch, bot.system, "wake")
    bot.advance(minutes=10)
    assert [user_id for user_id, _ in woken] == [changed]   # only they left the group
    monkeypatch.setattr(bot.store.users, "save_many", real_save_many)
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)
    stored = bot.store.users.load(changed)             # the actor found the ask sent and saved it
    assert (stored.doses[0].state, stored.doses[0].asks) == ("asking", 1)
    bot.advance(minutes=10)
    assert all(bot.pushed_texts(user) == ["飲んだ?", "飲んだ??"] for user in users)
    assert bot.gaps(changed) == [600]
    assert asks_seen_once(bot)


def test_a_user_whose_actor_is_busy_is_asked_by_that_actor(bot, monkeypatch):
    users = crowd(bot, 3)
    busy = users[0]
    real_show_help = user_actor._HANDLERS[ShowHelp]

    real_load_many = bot.store.users.load_many
    found_due = Event()

    def load_many(user_ids):
        try:
            return real_load_many(user_ids)
        finally:
            found_due.set()

    def show_help_as_the_round_falls_due(actor, message):
        bot.timer._move_to(bot.timer.now() + 600)
        bot.timer._wake_due()
        assert found_due.wait(5)                 # still handling this when the round is due
        return real_show_help(actor, message)

    monkeypatch.setattr(bot.store.users, "load_many", load_many)

    monkeypatch.setitem(user_actor._HANDLERS, ShowHelp, show_help_as_the_round_falls_due)
    asked_by_actors = count_calls(monkeypatch, bot.system.asks, "ask")
    bot.system.tell(busy, ShowHelp())
    bot.timer.settle()
    assert [record.user_id for record, *_ in asked_by_actors] == [busy]
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)
    assert asks_seen_once(bot)


def test_asks_queued_while_the_senders_are_busy_go_out_together(bot, monkeypatch):
    users = crowd(bot, 4)
    batcher = AskBatcher(bot.store.batches, bot.outbox, bot.timer.now, lease_seconds=30,
                         senders=1)
    bot.timer._move_to(bot.timer.now() + 600)    # 6:10 (their actors are not woken)
    plans = [plain_wakeup(bot.store.users.load(user), bot.timer.now(), bot.system.rules, TOKYO)
             for user in users]
    line_answers, on_the_wire = Event(), Event()
    bot.platform.faults.held = line_answers
    real_push = bot.outbox.push
    monkeypatch.setattr(bot.outbox, "push",
                        lambda *args: on_the_wire.set() or real_push(*args))
    first = gevent.spawn(batcher.ask_together, [(p.record, p.started) for p in plans[:1]], 0)
    assert on_the_wire.wait(timeout=5)          # the one sender is busy with the first user
    later = [gevent.spawn(batcher.ask_together, [(p.record, p.started) for p in part], 0)
             for part in (plans[1:3], plans[3:])]   # two more groups fall due meanwhile
    gevent.idle()
    assert batcher.waiting == 3
    line_answers.set()
    gevent.joinall([first, *later], raise_error=True)
    assert [[asked.outcome for asked in g.value] for g in (first, *later)] == [
        [SHOWN], [SHOWN, SHOWN], [SHOWN]]
    assert send_paths(bot.platform) == [PUSH_PATH, MULTICAST_PATH]  # the three that waited
    assert all(bot.pushed_texts(user) == ["飲んだ?"] for user in users)


def test_records_that_cannot_be_read_leave_the_others_due_with_them_alone(bot, caplog):
    users = crowd(bot, 4)
    cut_short, nowhere = users[1], users[2]
    edit_record(bot, cut_short, lambda raw: b'{"tz": null, "v": 1, "h": 6')
    edit_record(bot, nowhere, lambda raw: raw.replace(b'"tz":null', b'"tz":"Nowhere/Atlantis"'))
    stored = {user: bot.store.redis.get(keys.ONE_REDIS.user(user)) for user in (cut_short, nowhere)}
    bot.advance(minutes=10)
    bot.advance(minutes=10)
    asked = ["飲んだ?", "飲んだ??"]
    assert [bot.pushed_texts(user) for user in users] == [asked, [], [], asked]
    for user, raw in stored.items():            # kept as they were, for whoever repairs them
        assert bot.store.redis.get(keys.ONE_REDIS.user(user)) == raw
    assert bot.store.redis.zscore(keys.ONE_REDIS.due(), cut_short) is None  # unreadable: not woken again
    assert "cannot be read" in caplog.text and "not asked until" in caplog.text
    assert cut_short not in caplog.text and nowhere not in caplog.text
    assert bot.system.scheduler.waking == MAX_WAKING   # every waking slot was given back


def test_rounds_ending_together_are_recorded_in_one_save_and_watchers_told_once(
        bot, monkeypatch):
    users = crowd(bot, 3)
    watcher = "U" + "f" * 32
    watched_by(bot, watcher, {users[0]: "花子", users[1]: "太郎"})  # the third: by nobody
    bot.advance(hours=1, minutes=59)            # 7:59: the last re-ask came at 7:50
    together = count_calls(monkeypatch, bot.store.users, "save_many")
    alone = count_calls(monkeypatch, bot.store.users, "save")
    looked_up = count_calls(monkeypatch, bot.system.watches, "watchers_of_many")
    one_by_one = count_calls(monkeypatch, bot.system.watches, "watchers")
    bot.advance(minutes=1)                      # 8:00: every round ends unanswered
    [(ended, changes)] = [call for call in together if len(call[0]) == 3]
    assert sorted(record.user_id for record in ended) == users
    ended_as = sum(changes.values(), ())
    assert len(ended_as) == 3 and all(change.outcome == "missed" for change in ended_as)
    assert [sorted(owners) for owners, in looked_up] == [sorted(users)] and one_by_one == []
    assert len(alone) == 2                      # each alert, sent by that user's actor
    missed = "花子さんが6時10分の薬をまだ飲んでいないようです。"
    assert bot.pushed_texts(watcher).count(missed) == 1
    assert bot.pushed_texts(watcher).count(missed.replace("花子", "太郎")) == 1
    for user in users:                          # 記録: one missed round each, counted once
        [tally] = bot.store.users.history(user).values()
        assert (tally.taken, tally.late, tally.missed) == (0, 0, 1)
    bot.advance(hours=1)
    assert bot.pushed_texts(watcher).count(missed) == 1


def test_asks_line_cannot_take_at_the_rounds_end_record_them_and_look_up_watchers_once(
        make_bot, monkeypatch):
    # A re-ask a day later (an interval near a day): when LINE cannot take it, the round ends
    # there, unanswered, from the group that asked.
    bot = make_bot(snooze_interval_seconds=23 * 3600, max_reasks=1)
    users = crowd(bot, 3)
    watcher = "U" + "f" * 32
    watched_by(bot, watcher, {users[0]: "花子", users[1]: "太郎"})  # the third: by nobody
    def asks(user):
        return [text for text in bot.pushed_texts(user) if text.startswith("飲んだ")]

    bot.advance(minutes=10)                     # 6:10: asked, together
    assert all(asks(user) == ["飲んだ?"] for user in users)
    looked_up = count_calls(monkeypatch, bot.system.watches, "watchers_of_many")
    one_by_one = count_calls(monkeypatch, bot.system.watches, "watchers")
    bot.platform.faults.fail_next(4)                # every attempt of the re-ask: LINE is down
    bot.advance(hours=23)                       # 5:10 the next day
    assert all(asks(user) == ["飲んだ?"] for user in users)
    assert [sorted(owners) for owners, in looked_up] == [sorted(users)] and one_by_one == []
    missed = "花子さんが6時10分の薬をまだ飲んでいないようです。"
    assert bot.pushed_texts(watcher).count(missed) == 1
    assert bot.pushed_texts(watcher).count(missed.replace("花子", "太郎")) == 1
    for user in users:                          # 記録: one missed round each
        [tally] = bot.store.users.history(user).values()
        assert (tally.taken, tally.late, tally.missed) == (0, 0, 1)
