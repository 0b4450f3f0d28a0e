"""The closed set of messages the actors understand. Commands are imperative, events past
tense. `reply_token` is None when there is nobody to answer (e.g. a test or a redelivery)."""
from dataclasses import dataclass
from typing import Optional


# -- UserActor: from the chat ---------------------------------------------------------------
@dataclass(frozen=True)
class Reschedule:
    hour: int
    minute: int
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class RejectTime:
    """The user wrote a time that cannot exist (25時, 7時60分)."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class ShowSetting:
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class DeleteSetting:
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Acknowledge:
    """Anything that is not a command: the answer to an open reminder, else a help request."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Postpone:
    """あとで / まだ: keep asking."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Greet:
    """The user added the bot as a friend."""
    reply_token: Optional[str] = None


@dataclass(frozen=True)
class Stop:
    """The user blocked the bot: forget them."""


# -- UserActor: from the dispatcher -----------------------------------------------------------
@dataclass(frozen=True)
class ReminderDue:
    due: float


# -- SnoozeDispatcher -------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleDue:
    user_id: str
    due: float
