"""LINE webhook events as plain objects, read without line-bot-sdk's models on the usual path.

The classes carry the SDK's names and attributes (`MessageEvent.message.text`,
`UserSource.user_id`, `delivery_context.is_redelivery`, ...), so code written against
`linebot.v3.webhooks` reads them unchanged. `read_event` decides what is valid exactly as the
SDK's models do (tests/test_webhook_events.py compares the two on generated events): the
events a user sends every day (a text, a sticker, a location, a button, follow, unfollow)
are checked here field by field against the SDK's types; anything else, or anything this
reader is not sure about, is handed to the SDK itself, imported the first time that happens.
Importing the
SDK's webhook models costs ~0.5 s and ~25 MB, which a start-up and a day of ordinary
webhooks no longer pay.
"""
from typing import Optional

# The SDK's discriminator maps (linebot.v3.webhooks Event and MessageContent).
EVENT_TYPES = frozenset({
    "accountLink", "activated", "beacon", "botResumed", "botSuspended", "deactivated",
    "delivery", "follow", "join", "leave", "memberJoined", "memberLeft", "membership",
    "message", "messageEdited", "module", "postback", "unfollow", "unsend", "videoPlayComplete",
})
MESSAGE_TYPES = frozenset({"audio", "file", "image", "location", "sticker", "text", "video"})
MODES = frozenset({"active", "standby"})


class InvalidEvent(ValueError):
    """An event of a known type that the SDK's models refuse."""


class WebhookObject:
    """Attributes as the SDK's model of the same name has them (None when absent)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __eq__(self, other):
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __repr__(self):
        return f"{type(self).__name__}({self.__dict__!r})"


class Event(WebhookObject):
    pass


class MessageEvent(Event):
    pass


class PostbackEvent(Event):
    pass


class FollowEvent(Event):
    pass


class UnfollowEvent(Event):
    pass


class JoinEvent(Event):
    pass


class Source(WebhookObject):
    pass


class UserSource(Source):
    pass


class GroupSource(Source):
    pass


class RoomSource(Source):
    pass


class DeliveryContext(WebhookObject):
    pass


class MessageContent(WebhookObject):
    pass


class TextMessageContent(MessageContent):
    pass


class StickerMessageContent(MessageContent):
    pass


class LocationMessageContent(MessageContent):
    pass


class PostbackContent(WebhookObject):
    pass


class FollowDetail(WebhookObject):
    pass


# -- the usual events, checked here ----------------------------------------------------------

class _Unsure(Exception):
    """Not one of the shapes checked here: the SDK's models decide."""


def _str(value):
    if type(value) is str:
        return value
    raise _Unsure


def _int(value):
    if type(value) is int:
        return value
    raise _Unsure


def _bool(value):
    if type(value) is bool:
        return value
    raise _Unsure


def _mode(value):
    if type(value) is str and value in MODES:
        return value
    raise _Unsure


def _absent(value):
    """A field the SDK checks in ways not repeated here (mentions)."""
    if value is None:
        return None
    raise _Unsure


def _optional(check):
    return lambda value: None if value is None else check(value)


def _number(value):  # Union[StrictFloat, StrictInt]
    if type(value) is float or type(value) is int:
        return value
    raise _Unsure


STICKER_RESOURCE_TYPES = frozenset({  # the SDK's validator on stickerResourceType
    "STATIC", "ANIMATION", "SOUND", "ANIMATION_SOUND", "POPUP", "POPUP_SOUND", "CUSTOM",
    "MESSAGE", "NAME_TEXT", "PER_STICKER_TEXT",
})


def _sticker_resource_type(value):
    if type(value) is str and value in STICKER_RESOURCE_TYPES:
        return value
    raise _Unsure


def _keywords(value):  # conlist(StrictStr, max_items=15)
    if type(value) is list and len(value) <= 15:
        return [_str(item) for item in value]
    raise _Unsure


def _sticker_text(value):  # constr(strict=True, max_length=100)
    if type(value) is str and len(value) <= 100:
        return value
    raise _Unsure


def _params(value):  # Dict[str, StrictStr]
    if type(value) is dict:
        return {key: _str(item) for key, item in value.items()}
    raise _Unsure


def _model(cls, fields):
    """A check that reads a JSON object into `cls`; `fields`: JSON name -> (attribute, check).
    Other JSON names are ignored, as the SDK's models ignore them."""
    def read(value):
        if type(value) is not dict:
            raise _Unsure
        return cls(**{attribute: check(value.get(name))
                      for name, (attribute, check) in fields.items()})
    return read


def _one_of(readers, value):
    """`value` read by the reader of its "type"."""
    kind = value.get("type") if type(value) is dict else None
    if type(kind) is str and kind in readers:
        return readers[kind](value)
    raise _Unsure


def _typed(cls, type_name, fields):
    """A model whose `type` the SDK fills in (`type: str = "text"`)."""
    return _model(cls, {"type": ("type", lambda value: type_name), **fields})


_SOURCES = {
    "user": _typed(UserSource, "user", {"userId": ("user_id", _optional(_str))}),
    "group": _typed(GroupSource, "group", {"groupId": ("group_id", _str),
                                           "userId": ("user_id", _optional(_str))}),
    "room": _typed(RoomSource, "room", {"userId": ("user_id", _optional(_str)),
                                        "roomId": ("room_id", _str)}),
}


def _source(value):
    if value is None:
        return None
    return _one_of(_SOURCES, value)


_emoji = _model(WebhookObject, {"index": ("index", _int), "length": ("length", _int),
                                "productId": ("product_id", _str),
                                "emojiId": ("emoji_id", _str)})


def _emojis(value):  # conlist(Emoji)
    if type(value) is list:
        return [_emoji(item) for item in value]
    raise _Unsure


_QUOTABLE = {"quoteToken": ("quote_token", _str),
             "quotedMessageId": ("quoted_message_id", _optional(_str)),
             "markAsReadToken": ("mark_as_read_token", _optional(_str))}
_CONTENTS = {
    "text": _typed(TextMessageContent, "text", {
        "id": ("id", _str), "text": ("text", _str), "emojis": ("emojis", _optional(_emojis)),
        "mention": ("mention", _absent), **_QUOTABLE}),
    "sticker": _typed(StickerMessageContent, "sticker", {
        "id": ("id", _str), "packageId": ("package_id", _str),
        "stickerId": ("sticker_id", _str),
        "stickerResourceType": ("sticker_resource_type", _sticker_resource_type),
        "keywords": ("keywords", _optional(_keywords)),
        "text": ("text", _optional(_sticker_text)), **_QUOTABLE}),
    "location": _typed(LocationMessageContent, "location", {
        "id": ("id", _str), "title": ("title", _optional(_str)),
        "address": ("address", _optional(_str)), "latitude": ("latitude", _number),
        "longitude": ("longitude", _number),
        "markAsReadToken": ("mark_as_read_token", _optional(_str))}),
}


def _content(value):
    return _one_of(_CONTENTS, value)


def _event(cls, type_name, fields):
    return _typed(cls, type_name, {
        "source": ("source", _source), "timestamp": ("timestamp", _int),
        "mode": ("mode", _mode), "webhookEventId": ("webhook_event_id", _str),
        "deliveryContext": ("delivery_context", _model(DeliveryContext, {
            "isRedelivery": ("is_redelivery", _bool)})),
        **fields})


_EVENTS = {
    "message": _event(MessageEvent, "message", {
        "replyToken": ("reply_token", _optional(_str)), "message": ("message", _content)}),
    "postback": _event(PostbackEvent, "postback", {
        "replyToken": ("reply_token", _optional(_str)),
        "postback": ("postback", _model(PostbackContent, {
            "data": ("data", _str), "params": ("params", _optional(_params))}))}),
    "follow": _event(FollowEvent, "follow", {
        "replyToken": ("reply_token", _str),
        "follow": ("follow", _model(FollowDetail, {"isUnblocked": ("is_unblocked", _bool)}))}),
    "unfollow": _event(UnfollowEvent, "unfollow", {}),
}


# -- reading one event -----------------------------------------------------------------------

def read_event(raw: dict) -> Optional[Event]:
    """The event in `raw` (a dict whose "type" is a str); None for an event or message type
    the SDK does not know (LINE adds new ones); InvalidEvent when the SDK would refuse it."""
    kind = raw["type"]
    if kind not in EVENT_TYPES:
        return None
    content = raw.get("message")
    if (kind == "message" and type(content) is dict and type(content.get("type")) is str
            and content["type"] not in MESSAGE_TYPES):
        return None
    reader = _EVENTS.get(kind)
    if reader is not None:
        try:
            return reader(raw)
        except _Unsure:
            pass
    return _read_with_sdk(raw)


def _read_with_sdk(raw: dict) -> Event:
    from linebot.v3.webhooks import Event as SdkEvent

    try:
        event = SdkEvent.from_dict(raw)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # pydantic's ValidationError is a ValueError; the generated from_dict code raises the
        # others on wrong shapes (e.g. a list where an object belongs).
        raise InvalidEvent(_why(exc)) from exc
    return from_sdk(event)


def _why(exc: Exception) -> str:
    """What the SDK refused, by model and field names only ("TextMessageContent.quoteToken
    missing"): its own messages can quote the event, a user's text included."""
    model, errors = getattr(exc, "model", None), getattr(exc, "errors", None)
    if model is None or not callable(errors):
        return f"a shape the SDK cannot read ({type(exc).__name__})"
    return ", ".join(f"{model.__name__}.{error['loc'][0]} "
                     f"{_MISSING.get(error['type'], error['type'])}" for error in errors())


# pydantic's words for a required field that is absent (the SDK's from_dict passes None).
_MISSING = {"type_error.none.not_allowed": "missing", "value_error.missing": "missing"}


def _descendants(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _descendants(subclass)


_CLASSES = {cls.__name__: cls for cls in _descendants(WebhookObject)}  # every class above


def from_sdk(value):
    """An SDK model (and what it holds) as the classes here: the class of the same name, or
    of its nearest SDK base class that has one here, else WebhookObject. Enums become their
    values."""
    fields = getattr(type(value), "__fields__", None)
    if fields is not None:
        cls = next((_CLASSES[base.__name__] for base in type(value).__mro__
                    if base.__name__ in _CLASSES), WebhookObject)
        return cls(**{name: from_sdk(getattr(value, name)) for name in fields})
    if isinstance(value, list):
        return [from_sdk(item) for item in value]
    if isinstance(value, dict):
        return {key: from_sdk(item) for key, item in value.items()}
    enum_value = getattr(value, "value", None)
    if enum_value is not None and type(value).__module__.startswith("linebot."):
        return enum_value
    return value
