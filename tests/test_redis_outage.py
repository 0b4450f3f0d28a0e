"""Redis goes away for a few seconds mid-round (a restart, a failover) and comes back."""
import logging

import urllib.error
import urllib.request

import gevent
import gevent.event
import pytest

from actors import system as actor_system
from chat import texts
from logsafe import short_id
from storage.store import Store, connect
from tests.conftest import Bot, make_settings
from tests.support import RedisLink


@pytest.fixture
def link(redis_server):
    relay = RedisLink(redis_server.port).start()
    yield relay
    relay.stop()


@pytest.fixture
def bot_behind_link(link, redis_client, platform, frozen):
    client = connect(link.url)
    bot = Bot(Store(client), platform, frozen, make_settings()).start()
    yield bot
    bot.stop()
    client.close()


def test_the_round_resumes_when_redis_is_back(bot_behind_link, link, platform, user_id,
                                              caplog):
    bot = bot_behind_link
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)                           # the first ask
    with caplog.at_level(logging.INFO):
        link.cut()
        bot.advance(minutes=10, seconds=5)            # re-ask 1 falls due while Redis is away
        assert bot.pushed_texts(user_id) == ["飲んだ?"]
        answer = platform.make_text_event(user_id, "飲んだ")
        assert platform.post_events([answer]) == 503  # deliberate: LINE may redeliver
        bot.timer.settle()
        link.restore()
        bot.advance(seconds=2)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]  # resumed, once
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["Redis unavailable (ConnectionError); retrying until it is back",
                        "webhook refused with 503: Redis unavailable",
                        "Redis available again"]
    assert "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if "outcome=refused" in r.getMessage()] == [
        f"event=message kind=text user={short_id(user_id)} outcome=refused status=503 reason=redis"]

    redelivered = dict(answer, deliveryContext={"isRedelivery": True})
    assert platform.post_events([redelivered]) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == (texts.WELL_DONE,)
    bot.advance(hours=2)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]


def test_a_start_while_redis_is_away_waits_for_it(link, platform, frozen, user_id, monkeypatch):
    monkeypatch.setattr(actor_system, "START_RETRY_SECONDS", 0.01)
    client = connect(link.url)
    bot = Bot(Store(client), platform, frozen, make_settings())
    outage = gevent.event.Event()
    seen = _OnLog("Redis unavailable", outage)
    logging.getLogger("storage.store").addHandler(seen)
    go_user = "U" + "9" * 32
    client.set(f"user_{go_user}", "6:30")           # a user of the Go bot, imported at start
    starting = None
    try:
        link.cut()
        starting = gevent.spawn(bot.start)
        assert outage.wait(10)
        health = bot.url.replace("/callback", "/healthz")
        with pytest.raises(urllib.error.HTTPError) as not_yet:
            urllib.request.urlopen(health, timeout=5)
        assert not_yet.value.code == 503                # not ready: LINE redelivers
        link.restore()
        starting.get(timeout=10)
        assert urllib.request.urlopen(health, timeout=5).status == 200
        bot.say(user_id, "6時10分")
        bot.advance(minutes=10)
        assert bot.pushed_texts(user_id) == ["飲んだ?"]
        bot.advance(minutes=20)
        assert bot.pushed_texts(go_user) == ["飲んだ?"]
    finally:
        if starting is not None:
            starting.kill()
        logging.getLogger("storage.store").removeHandler(seen)
        bot.stop()
        client.close()


class _OnLog(logging.Handler):
    def __init__(self, text, event):
        super().__init__(logging.WARNING)
        self.text, self.event = text, event

    def emit(self, record):
        if self.text in record.getMessage():
            self.event.set()


def test_on_a_cluster_an_outage_is_over_once_calls_go_3_s_without_an_error(caplog, frozen):
    """While one master fails over, the calls to the others succeed in between: that is not
    the end of the outage, which is logged once, and over once 3 s pass without an error."""
    from storage.outage import Outage

    outage = Outage(partial=True)
    with caplog.at_level(logging.WARNING, logger="storage.store"):
        for _ in range(10):                 # each second: a failing call, then another master
            outage.seen(ConnectionError())
            outage.over()
            frozen.tick(1)
        outage.over()
        frozen.tick(1.5)
        outage.over()                       # 2.5 s without an error: not yet
        frozen.tick(0.5)
        outage.over()
    assert [r.getMessage() for r in caplog.records] == [
        "Redis unavailable (ConnectionError); retrying until it is back", "Redis available again"]
