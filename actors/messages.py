"""The closed set of messages the actors understand. Commands are imperative, events past
tense. `reply_token` is None when there is nobody to answer (an unfollow, a test)."""
from dataclasses import dataclass, fields, is_dataclass
from typing import Optional, Tuple, Union, get_args, get_origin, get_type_hints

from domain.days import DayWords
from domain.rounds import Time


# -- UserActor: from the chat ---------------------------------------------------------------
@dataclass(frozen=True)
class SetTimes:
    """Make `times` the whole schedule, or (`add`) add them to it, on the days `days` say
    (None: the message said nothing about days)."""
    times: Tuple[Time, ...]
    add: bool = False
    reply_token: Optional[str] = None
    days: Optional[DayWords] = None
    in_passing: bool = False  # the times came with other words: ask before replacing


@dataclass(frozen=True)
class ChangeSchedule:
    """変える: replace the schedule with `times` on `days`, if it is still the one
    fingerprinted `schedule` when the user was asked."""
    schedule: str
    times: Tuple[Time, ...]
    days: Optional[DayWords]
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class KeepSchedule:
    """そのまま: leave the schedule as it is."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class NameDose:
    """The medicine taken at `time` is `name` (None: no name any more)."""
    time: Time
    name: Optional[str]
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class TimePicked:
    """A time chosen with the bot's time picker: added, or the schedule when none is set."""
    time: Time
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class RemoveTimes:
    """Remove these times; every time when none is named."""
    times: Tuple[Time, ...] = ()
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class RejectTime:
    """The user wrote a time that cannot exist (25時, 7時60分)."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class ShowSetting:
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class ShowHistory:
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class ShowHelp:
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class RequestWatchCode:
    """見守り: a code for someone to watch this user."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class RedeemWatchCode:
    """Six digits: start watching whoever made that code."""
    code: str
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class EndWatches:
    """見守り解除: end every watch of this user, and every watch by this user."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class SetZone:
    """Ask at the times in this IANA zone; None: the user named no zone we know."""
    zone: Optional[str]
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class SetZoneAt:
    """A location the user sent: ask in the time zone of that place."""
    latitude: float
    longitude: float
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class MessageReceived:
    """Anything that is not a command (text, sticker, photo): it answers every open round;
    with none open, `took` (飲んだ) answers the missed ones late. Else: the help."""
    took: bool = False
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class TookTapped:
    """The 飲んだ! button under an ask of the round that starts at `round_at`."""
    round_at: int
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Postpone:
    """あとで / まだ, or the あとで button: keep asking."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Greet:
    """The user added the bot as a friend."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Forget:
    """The user blocked the bot: forget them."""


# -- UserActor: from the scheduler ------------------------------------------------------------
@dataclass(frozen=True)
class ReminderDue:
    """Something of the user's is due (the scheduler found them in the due index)."""


# -- Scheduler ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleDue:
    """A due time this process just set."""
    due: float


# -- UserActor: a webhook event's message, taken in (storage/events.py) ------------------------
@dataclass(frozen=True)
class FromWebhook:
    """`message` from the webhook event `event_id`: once handled, the event is finished."""
    event_id: str
    message: object


# -- kept in Redis while a webhook event is handled (storage/events.py) ------------------------
def encode(message) -> list:
    """A user's message from the chat as JSON-able data: [its class, its fields...]."""
    return [type(message).__name__, *(_plain(getattr(message, f.name)) for f in fields(message))]


def _plain(value):
    return [_plain(item) for item in value] if isinstance(value, tuple) else value


def decode(data: list):
    """The message `encode` gave `data` for."""
    cls, field_hints = _FROM_CHAT[data[0]]
    return cls(*(_typed(hint, value) for hint, value in zip(field_hints, data[1:])))


def _typed(hint, value):
    """`value` read back from JSON as `hint` says: tuples from lists, DayWords."""
    if value is None:
        return None
    if get_origin(hint) is Union:
        return _typed(next(arg for arg in get_args(hint) if arg is not type(None)), value)
    if hint is DayWords:
        return DayWords(*value)
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], item) for item in value)
        return tuple(_typed(arg, item) for arg, item in zip(args, value))
    return value


# Every message from the chat (every dataclass above but the scheduler's and the wrapper), by
# name: the class and its fields' types, in order.
_FROM_CHAT = {name: (cls, [get_type_hints(cls)[f.name] for f in fields(cls)])
              for name, cls in list(globals().items())
              if isinstance(cls, type) and is_dataclass(cls)
              and cls not in (ReminderDue, ScheduleDue, FromWebhook)}
