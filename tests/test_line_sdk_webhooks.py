"""The webhook bodies of LINE's own SDK test suites and of the Messaging API reference
(tests/fixtures/line_webhooks/: sources, commits and licences in its README), sent to the
whole bot as signed webhooks."""
import json
import os

import pytest

from chat import texts

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "line_webhooks")
SOURCES = ["python", "go", "nodejs", "php", "reference"]


def fixture_bodies():
    """(name, body) of every fixture body, as stored."""
    for source in SOURCES:
        with open(os.path.join(FIXTURES, f"{source}.json"), encoding="utf-8") as stored:
            entries = json.load(stored)["bodies"]
        for number, entry in enumerate(entries):
            yield f"{source} {entry['path']} #{number}", entry["body"]


# -- postbacks the bot did not make ------------------------------------------------------------

def fixture_postbacks():
    """Every distinct `postback` object in the fixtures: another tool's rich menu, pickers."""
    found = []
    for _, body in fixture_bodies():
        found += [event["postback"] for event in body["events"]
                  if event.get("type") == "postback" and event["postback"] not in found]
    return found


LOOK_ALIKES = [{"data": data} for data in (
    "took:", "later:x", "took:1795734000:1", "took:²", "took:１７９５７３４０００", "Took", "飲んだ")]
FOREIGN = fixture_postbacks() + LOOK_ALIKES


@pytest.mark.parametrize("postback", FOREIGN, ids=lambda postback: json.dumps(
    postback, ensure_ascii=False))
def test_a_postback_the_bot_did_not_make_is_no_answer_and_gets_no_reply(postback, bot, platform,
                                                                        user_id):
    bot.say(user_id, "6時10分")
    bot.advance(minutes=10)                                  # 飲んだ? is open
    tapped = platform.make_postback_event(user_id, postback["data"], postback=postback)
    assert platform.post_events([tapped]) == 200
    bot.timer.settle()
    assert [r for r in platform.replies if r.reply_token == tapped["replyToken"]] == []

    [ask] = bot.pushes(user_id)
    [_, (_, later)] = texts.ask_buttons(ask.at)
    bot.tap(user_id, later)                                  # the bot's own あとで still works
    assert bot.last_reply(user_id) == (texts.LATER,)
    bot.advance(minutes=10)
    assert bot.pushed_texts(user_id) == ["飲んだ?", "飲んだ??"]   # the round is still open


def test_in_a_group_a_postback_the_bot_did_not_make_gets_no_reply(bot, platform):
    group = {"type": "group", "groupId": "C" + "1" * 32, "userId": "U" + "2" * 32}
    [reference_picker] = [p for p in FOREIGN if p["data"] == "storeId=12345"]
    tapped = platform.make_postback_event("x", "x", source=group, postback=reference_picker)
    text = platform.make_text_event("x", "7時", source=group)
    assert platform.post_events([tapped, text]) == 200       # both answered at once, in turn
    platform.wait_for(lambda p: any(r.reply_token == text["replyToken"] for r in p.replies),
                      what="the one-to-one reply to the text")
    assert [r.reply_token for r in platform.replies] == [text["replyToken"]]   # none to the tap
