"""LINE webhook bodies → events → actor messages. Parsing text happens once, here.

`parse_events` accepts what LINE sends and rejects the rest with `MalformedWebhook` (the edge
answers 400): not JSON, the wrong shapes, a known event or message type with fields missing
or mistyped, as line-bot-sdk's models judge them (webhook_events.py). Event and message types
the SDK does not know are skipped (LINE adds new ones).
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
    Event, FollowEvent, InvalidEvent, JoinEvent, LocationMessageContent, MessageEvent,
    PostbackEvent, TextMessageContent, UnfollowEvent, UserSource, read_event,
)


class MalformedWebhook(ValueError):
    """A signed body that is not a webhook this bot can read."""


def signature_ok(channel_secret: str, body: bytes, signature: Optional[str]) -> bool:
    """X-Line-Signature is base64(HMAC-SHA256(channel secret, raw body)); constant-time."""
    if not signature:
        return False
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.encode("utf-8", "replace"))


def parse_events(body: bytes) -> List[Event]:
    """The events of a webhook body whose signature was checked; MalformedWebhook otherwise.
    All or nothing: one bad event rejects the body before anything is acted on."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedWebhook("not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise MalformedWebhook("no events list")
    events = []
    for raw in payload["events"]:
        event = _parse_event(raw)
        if event is not None:
            events.append(event)
    return events


def _parse_event(raw) -> Optional[Event]:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise MalformedWebhook("an event without a type")
    try:
        return read_event(raw)  # None: an event or message type the SDK does not know
    except InvalidEvent as exc:
        raise MalformedWebhook(f"a {raw['type'][:40]!r} event that does not validate "
                               f"({exc})") from exc


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
    chat.Times: lambda intent, token: messages.SetTimes(intent.times, intent.add, token),
    chat.Removal: lambda intent, token: messages.RemoveTimes(intent.times, token),
    chat.BadTime: lambda intent, token: messages.RejectTime(token),
    chat.SettingQuery: lambda intent, token: messages.ShowSetting(token),
    chat.RecordQuery: lambda intent, token: messages.ShowRecord(token),
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
    source = getattr(event, "source", None)
    reply_token = getattr(event, "reply_token", None)
    if not isinstance(source, UserSource) or not source.user_id:
        if isinstance(event, (MessageEvent, PostbackEvent, JoinEvent)) and source is not None:
            return NotOneToOne(reply_token)
        return None
    message = _message_for(event, reply_token)
    return None if message is None else ForUser(source.user_id, message)


def _message_for(event, reply_token):
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
        word, round_at = texts.read_postback(event.postback.data)
        if word == texts.POSTBACK_LATER:
            return messages.Postpone(reply_token)
        if round_at is not None:
            return messages.TookTapped(round_at, reply_token)
        return messages.MessageReceived(took=True, reply_token=reply_token)
    if isinstance(event, FollowEvent):
        return messages.Greet(reply_token)
    if isinstance(event, UnfollowEvent):
        return messages.Forget()
    return None
