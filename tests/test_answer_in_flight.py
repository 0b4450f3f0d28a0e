"""An answer sent the moment the ask appears on the phone, while the bot is still waiting for
LINE's answer to that ask. LINE shows the ask before the bot hears back, and the 飲んだ!
button is one tap away: such an answer answers the round like any other."""
import gevent
import pytest
from gevent.event import Event

from chat import texts
from tests.support import advance_together, crowd

ASK_AT = 10 * 60  # crowd()'s 6:10 is ten minutes after the test's 06:00


def replies_to(platform, user_id):
    return [reply.texts for reply in platform.replies if reply.to == user_id]


class AskInFlight:
    """The users' 6:10 ask taken by LINE (users see it) while its answer to the bot is held."""

    def __init__(self, bots, users):
        self.bots, self.platform = bots, bots[0].platform
        self.round_at = bots[0].timer.now() + ASK_AT
        self._release = Event()
        self.platform.faults.answers_held = self._release
        self._clock = gevent.spawn(advance_together, [bot.timer for bot in bots], ASK_AT)
        self.platform.wait_for(lambda line: all(any(p.to == user for p in line.pushes)
                                                for user in users),
                               what="the ask on every phone")

    @property
    def sender(self):
        [sender] = [bot for bot in self.bots if bot.outbox.in_flight]
        return sender

    def say(self, user_id, text, to=None):
        """`text` from the user, to the bot `to` (default: the first); returns its reply."""
        return self._webhook(user_id, to, lambda: self.platform.send_text(user_id, text))

    def send_sticker(self, user_id):
        return self._webhook(user_id, None, lambda: self.platform.send_sticker(user_id))

    def tap(self, user_id, label):
        data = dict((lab, d) for lab, d in texts.ask_buttons(self.round_at))[label]
        return self._webhook(user_id, None, lambda: self.platform.send_postback(user_id, data))

    def _webhook(self, user_id, to, send):
        before = len(replies_to(self.platform, user_id))
        self.platform.webhook_url = (to or self.bots[0]).url
        assert send() == 200
        self.platform.wait_for(lambda line: len(replies_to(line, user_id)) > before,
                               what="the reply")
        return replies_to(self.platform, user_id)[-1]

    def line_answers(self):
        self._release.set()
        self._clock.get()
        self.platform.faults.answers_held = None


def test_an_answer_while_the_ask_is_in_flight_answers_its_round(bot):
    users = crowd(bot, 4)
    said, stuck, tapped, silent = users
    asking = AskInFlight([bot], users)
    assert asking.say(said, "飲んだ") == (texts.WELL_DONE,)
    assert asking.send_sticker(stuck) == (texts.WELL_DONE,)
    assert asking.tap(tapped, texts.QUICK_TOOK) == (texts.WELL_DONE,)
    asking.line_answers()
    bot.advance(hours=2)
    for user in (said, stuck, tapped):
        assert bot.pushed_texts(user) == ["飲んだ?"]      # no re-ask after the answer
    assert bot.pushed_texts(silent)[:3] == ["飲んだ?", "飲んだ??", "飲んだ???"]
    record = bot.store.users.load(said)
    assert record.doses[0].state == "taken"


def test_later_while_the_ask_is_in_flight_keeps_the_reasks_coming(bot):
    users = crowd(bot, 2)
    asking = AskInFlight([bot], users)
    assert asking.say(users[0], "あとで") == (texts.LATER,)
    assert asking.tap(users[1], texts.QUICK_LATER) == (texts.LATER,)
    asking.line_answers()
    bot.advance(minutes=20)
    assert all(bot.pushed_texts(user) == ["飲んだ?", "飲んだ??", "飲んだ???"] for user in users)
    bot.say(users[0], "飲んだ")
    assert bot.last_reply(users[0]) == (texts.WELL_DONE,)


def test_a_new_time_while_the_ask_is_in_flight_ends_the_old_round(bot):
    users = crowd(bot, 2)
    moved, gone = users
    asking = AskInFlight([bot], users)
    # The 6:10 ask was shown today: the new time starts tomorrow (one ask a dose a day).
    assert asking.say(moved, "21時") == (texts.times_set([(21, 0)]),
                                         texts.TIME_SET_FROM_TOMORROW)
    assert asking.say(gone, "ばいばい") == (texts.DELETED,)
    asking.line_answers()
    bot.advance(hours=18)                                   # to 0:10 the next day
    assert bot.pushed_texts(moved) == ["飲んだ?"]           # no re-ask of 6:10, no 21:00
    assert bot.pushed_texts(gone) == ["飲んだ?"]
    bot.advance(hours=21, minutes=5)                        # 21:15 that day
    assert bot.pushed_texts(moved) == ["飲んだ?", "飲んだ?", "飲んだ??"]


@pytest.mark.parametrize("answered_by", ["sender", "other"])
def test_with_two_processes_the_answer_reaches_either(make_bot, answered_by):
    first = make_bot()
    users = crowd(first, 4)
    second = make_bot()
    asking = AskInFlight([first, second], users)
    sender = asking.sender
    other = second if sender is first else first
    to = sender if answered_by == "sender" else other
    assert asking.say(users[0], "飲んだ", to=to) == (texts.WELL_DONE,)
    asking.line_answers()
    advance_together([first.timer, second.timer], 2 * 3600)
    assert first.pushed_texts(users[0]) == ["飲んだ?"]
    assert first.pushed_texts(users[1])[:3] == ["飲んだ?", "飲んだ??", "飲んだ???"]
