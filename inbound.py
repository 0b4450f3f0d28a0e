"""Turns parsed LINE webhook events into actor messages. Parsing text happens once, here."""
from dataclasses import dataclass
from typing import Optional

from linebot.v3.webhooks import (
    FollowEvent, MessageEvent, PostbackEvent, StickerMessageContent, TextMessageContent,
    UnfollowEvent, UserSource,
)

from actors import messages
from chat import parse as chat
from chat import texts


@dataclass(frozen=True)
class ForUser:
    user_id: str
    message: object


@dataclass(frozen=True)
class NotOneToOne:
    """A group or room spoke to the bot: answer politely, store nothing."""
    reply_token: Optional[str]


_INTENTS = {
    chat.SetTime: lambda intent, token: messages.Reschedule(intent.hour, intent.minute, token),
    chat.BadTime: lambda intent, token: messages.RejectTime(token),
    chat.ShowSetting: lambda intent, token: messages.ShowSetting(token),
    chat.DeleteSetting: lambda intent, token: messages.DeleteSetting(token),
    chat.Took: lambda intent, token: messages.Acknowledge(token),
    chat.Later: lambda intent, token: messages.Postpone(token),
    chat.Other: lambda intent, token: messages.Acknowledge(token),
}


def translate(event):
    """ForUser, NotOneToOne, or None for events the bot ignores."""
    if getattr(event, "mode", None) != "active":
        return None  # standby: another channel answers; send nothing
    source = getattr(event, "source", None)
    reply_token = getattr(event, "reply_token", None)
    if not isinstance(source, UserSource) or not source.user_id:
        if isinstance(event, (MessageEvent, PostbackEvent)) and source is not None:
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
        if isinstance(content, StickerMessageContent):
            return messages.Acknowledge(reply_token)
        return None
    if isinstance(event, PostbackEvent):
        if event.postback.data == texts.POSTBACK_LATER:
            return messages.Postpone(reply_token)
        return messages.Acknowledge(reply_token)
    if isinstance(event, FollowEvent):
        return messages.Greet(reply_token)
    if isinstance(event, UnfollowEvent):
        return messages.Stop()
    return None
