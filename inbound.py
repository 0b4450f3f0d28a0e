"""LINE webhook bodies → events → actor messages. Parsing text happens once, here.

`parse_webhook` refuses with `MalformedWebhook` (the edge answers 400) only a body that is not
JSON or has no `events` list. Each event in it is read on its own: one the bot cannot read (not
an object, no type, a known event or message type with fields missing or mistyped, as
line-bot-sdk's models judge them: webhook_events.py) is set aside as `Unreadable`, and the
others are still handled; a redelivery would carry the same event, so refusing the body would
only lose the rest. Event and message types the SDK does not know are skipped (LINE adds new
ones).
"""
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import List, Optional

from actors import messages
from chat import parse as chat
from chat import texts
from webhook_events import (
    EVENT_TYPES, MESSAGE_TYPES, Event, FollowEvent, InvalidEvent, JoinEvent,
    LocationMessageContent, MessageEvent, PostbackEvent, TextMessageContent, UnfollowEvent,
    UserSource, read_event,
)


class MalformedWebhook(ValueError):
    """A signed body that is not a webhook this bot can read."""


def signature_ok(channel_secret: str, body: bytes, signature: Optional[str]) -> bool:
    """X-Line-Signature is base64(HMAC-SHA256(channel secret, raw body)); constant-time."""
    if not signature:
        return False
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode("utf-8", "replace"))


@dataclass(frozen=True)
class Unreadable:
    """An event of a body that the bot cannot read: its type, message type and sender when
    they can be told (None otherwise), and why; never its content."""
    type: Optional[str]
    kind: Optional[str]
    user_id: Optional[str]
    why: str


@dataclass(frozen=True)
class Webhook:
    events: List[Event]             # the events read, in order, without the unknown types
    unreadable: List[Unreadable]


def parse_webhook(body: bytes) -> Webhook:
    """The events of a webhook body whose signature was checked; MalformedWebhook when it is
    not JSON or has no events list."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedWebhook("not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise MalformedWebhook("no events list")
    events, unreadable = [], []
    for raw in payload["events"]:
        try:
            event = _read(raw)
        except InvalidEvent as exc:
            unreadable.append(_unreadable(raw, str(exc)))
            continue
        if event is not None:
            events.append(event)
    return Webhook(events, unreadable)


def _read(raw) -> Optional[Event]:
    if not isinstance(raw, dict):
        raise InvalidEvent("not an object")
    if not isinstance(raw.get("type"), str):
        raise InvalidEvent("no type")
    return read_event(raw)  # None: an event or message type the SDK does not know


def _unreadable(raw, why: str) -> Unreadable:
    raw = raw if isinstance(raw, dict) else {}
    message = raw["message"] if isinstance(raw.get("message"), dict) else {}
    source = raw["source"] if isinstance(raw.get("source"), dict) else {}
    user_id = source.get("userId")
    return Unreadable(type=_known(raw.get("type"), EVENT_TYPES),
                      kind=_known(message.get("type"), MESSAGE_TYPES),
                      user_id=user_id if isinstance(user_id, str) else None, why=why)


def _known(name, names) -> Optional[str]:
    """A type the SDK knows, else None: nothing else an event carries is logged."""
    return name if isinstance(name, str) and name in names else None


@dataclass(frozen=True)
class ForUser:
    user_id: str
    message: object

    @property
    def reply_token(self) -> Optional[str]:
        """The token the user's actor will answer with (None: nothing to answer)."""
        return getattr(self.message, "reply_token", None)


@dataclass(frozen=True)
class NotOneToOne:
    """A group or room spoke to the bot: answer politely, store nothing."""
    reply_token: Optional[str]


_INTENTS = {
    chat.Times: lambda intent, token: messages.SetTimes(intent.times, intent.add, token,
                                                         intent.days, intent.in_passing),
    chat.Naming: lambda intent, token: messages.NameDose(intent.time, intent.name, token),
    chat.Removal: lambda intent, token: messages.RemoveTimes(intent.times, token),
    chat.BadTime: lambda intent, token: messages.RejectTime(token),
    chat.SettingQuery: lambda intent, token: messages.ShowSetting(token),
    chat.HistoryQuery: lambda intent, token: messages.ShowHistory(token),
    chat.HelpQuery: lambda intent, token: messages.ShowHelp(token),
    chat.WatchRequest: lambda intent, token: messages.RequestWatchCode(token),
    chat.WatchEnd: lambda intent, token: messages.EndWatches(token),
    chat.WatchCode: lambda intent, token: messages.RedeemWatchCode(intent.code, token),
    chat.ZoneChange: lambda intent, token: messages.SetZone(intent.zone, token),
    chat.Took: lambda intent, token: messages.MessageReceived(took=True, reply_token=token),
    chat.Later: lambda intent, token: messages.Postpone(token),
    chat.Other: lambda intent, token: messages.MessageReceived(reply_token=token),
}


def translate(event):
    """ForUser, NotOneToOne, or None for events the bot ignores."""
    if getattr(event, "mode", None) != "active":
        return None  # standby: another channel answers; send nothing
    button = None
    if isinstance(event, PostbackEvent):
        button = texts.read_postback(event.postback.data)
        if button is None:
            return None  # a button the bot did not make: not said to the bot, wherever tapped
    source = getattr(event, "source", None)
    reply_token = getattr(event, "reply_token", None)
    if not isinstance(source, UserSource) or not source.user_id:
        if isinstance(event, (MessageEvent, PostbackEvent, JoinEvent)) and source is not None:
            return NotOneToOne(reply_token)
        return None
    message = _message_for(event, button, reply_token)
    return None if message is None else ForUser(source.user_id, message)


def _message_for(event, button, reply_token):
    if isinstance(event, MessageEvent):
        content = event.message
        if isinstance(content, TextMessageContent):
            intent = chat.parse(content.text)
            return _INTENTS[type(intent)](intent, reply_token)
        if isinstance(content, LocationMessageContent):
            return messages.SetZoneAt(content.latitude, content.longitude, reply_token)
        # A sticker, a photo of the pill box, anything: it answers an open reminder.
        return messages.MessageReceived(reply_token=reply_token)
    if isinstance(event, PostbackEvent):
        return _postback_message(button, event.postback.params, reply_token)
    if isinstance(event, FollowEvent):
        return messages.Greet(reply_token)
    if isinstance(event, UnfollowEvent):
        return messages.Forget()
    return None


def _postback_message(button, params, reply_token):
    """A tap on one of the bot's own buttons (chat/texts.py `read_postback`; `translate`
    drops the data the bot did not make, another tool's rich menu or date picker, in a group
    too): every postback the bot reads becomes its message here. Only the 飲んだ! button's
    data answers a round; the bot's time picker sets or adds a time (`params`: its time)."""
    if isinstance(button, texts.Keep):
        return messages.KeepSchedule(reply_token)
    if isinstance(button, texts.Change):
        return messages.ChangeSchedule(button.schedule, button.times, button.days, reply_token)
    if button.word == texts.POSTBACK_PICK_TIME:
        picked = texts.picked_time(params)
        if picked is None:
            return messages.RejectTime(reply_token)
        return messages.TimePicked(picked, reply_token)
    if button.word == texts.POSTBACK_LATER:
        return messages.Postpone(reply_token)
    if button.round_at is None:  # under an ask sent before rounds had ids: like 飲んだ
        return messages.MessageReceived(took=True, reply_token=reply_token)
    return messages.TookTapped(button.round_at, reply_token)
