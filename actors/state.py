"""A user's persisted state: the daily reminder definition and today's round.

Kept compact (slots, no greenlet) because every known user has one in memory. The round
fields are what make a restart resume exactly where it stopped.
"""

# Round states. ASKING stays open after the last re-ask: a late answer still counts.
ASKING = "asking"
TAKEN = "taken"
MISSED = "missed"        # the first ask fell due while the process was down, past the grace
CANCELLED = "cancelled"  # rescheduled or deleted while asking


class UserRecord:
    __slots__ = ("user_id", "hour", "minute", "tz", "day", "round", "asks", "answered_at",
                 "due", "version")

    def __init__(self, user_id, hour=None, minute=None, tz=None, day=None, round=None, asks=0,
                 answered_at=None, due=None, version=0):
        self.user_id = user_id
        self.hour = hour
        self.minute = minute
        self.tz = tz                  # None: the bot's default zone
        self.day = day                # local date of the current/last round, "YYYY-MM-DD"
        self.round = round            # None (no round yet), ASKING, TAKEN, MISSED, CANCELLED
        self.asks = asks              # asks sent this round: 1 = first ask, 1+k = k re-asks
        self.answered_at = answered_at
        self.due = due                # epoch seconds of the next first ask or re-ask
        self.version = version        # compare-and-set counter in Redis

    @property
    def has_time(self):
        return self.hour is not None

    @property
    def is_open(self):
        return self.round == ASKING

    def to_dict(self):
        return {"h": self.hour, "m": self.minute, "tz": self.tz, "day": self.day,
                "round": self.round, "asks": self.asks, "ans": self.answered_at,
                "due": self.due, "v": self.version}

    @classmethod
    def from_dict(cls, user_id, data):
        get = data.get  # positional: a restart builds 100k of these
        return cls(user_id, get("h"), get("m"), get("tz"), get("day"), get("round"),
                   get("asks", 0), get("ans"), get("due"), get("v", 0))

    def __repr__(self):
        return f"UserRecord({self.user_id!r}, {self.to_dict()!r})"

    def assign(self, other: "UserRecord") -> None:
        """Take over another record's fields in place (the registry keeps this object)."""
        for name in self.__slots__:
            setattr(self, name, getattr(other, name))
