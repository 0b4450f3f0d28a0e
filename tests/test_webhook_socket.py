"""The bot over real sockets: the LINE stand-in posts signed webhooks to /callback and the real
SDK client replies and pushes to the stand-in."""
from chat import texts


def test_signed_webhook_gets_the_exact_reply(bot, user_id, platform):
    assert platform.send_text(user_id, "毎朝７時半にお願いします") == 200
    bot.timer.settle()
    assert platform.messages_for(user_id) == [("reply", "7時30分ですね。わかりました。")]


def test_a_restarted_server_still_knows_every_users_time(bot, platform):
    times = {"Ualice": "7時30分", "Ubob": "21:05", "Ucarol": "午後1時"}
    for uid, text in times.items():
        bot.say(uid, text)
    bot.restart()
    for uid in times:
        bot.say(uid, "設定教えて")
    assert {uid: bot.last_reply(uid) for uid in times} == {
        "Ualice": ("7時30分に設定されています",),
        "Ubob": ("21時5分に設定されています",),
        "Ucarol": ("13時0分に設定されています",),
    }


def test_a_bad_signature_is_400_and_changes_nothing(bot, platform, redis_client):
    bot.say("Uknown", "7時")
    before = {key: redis_client.dump(key) for key in redis_client.keys("*")}
    event = platform.make_text_event("Umallory", "ばいばい", source={"type": "user", "userId": "Uknown"})
    assert platform.post_events([event], signature="c2lnbmF0dXJl") == 400
    assert platform.post_events([event], include_signature=False) == 400
    bot.timer.settle()
    assert {key: redis_client.dump(key) for key in redis_client.keys("*")} == before
    assert [r for r in platform.replies if r.to == "Uknown"][-1].texts == ("7時0分ですね。わかりました。",)


def test_follow_greets_and_unfollow_forgets(bot, user_id, platform):
    assert platform.follow(user_id) == 200
    bot.timer.settle()
    assert bot.last_reply(user_id) == (texts.greeting(600),)
    assert "10分ごと" in texts.greeting(600)
    bot.say(user_id, "8時")
    assert platform.unfollow(user_id) == 200
    bot.timer.settle()
    assert bot.store.users.load(user_id) is None
    bot.advance(hours=30)
    assert bot.pushes(user_id) == []
