"""Webhook events, from the moment they are taken in until they are handled, and then for a day
(LINE redelivers an event it is not sure we got, with the same webhookEventId).

An event for a user is taken in before the webhook is answered 200 (scripts/take_in_event.lua):
its key (keys.webhook_event) holds what it says and which process handles it, and the inbox
(keys.inbox, a sorted set by the time taken in) lists it until it is handled. Its key goes
through three values:

    "p <process> <event JSON>"   taken in, being handled by that process
    "r <process> <reply JSON>"   the user's record saved with its effect (in the same script,
                                 scripts/save_records.lua); its reply still to go out
    "d"                          handled: a redelivery is a duplicate

A process that dies leaves its events in the inbox; any other finds them there (`stuck`), sees
that their holder's heartbeat stopped, takes them over (`take_over`) and handles them again
from what they hold: an event not yet applied is handled as if it had just come, one applied
has its reply sent. A user's message is never lost to a kill and never applied twice.

On Redis Cluster an event's key and the inbox that lists it are in the user's shard (the
scripts read and write them with the user's record, in one slot): there is one inbox per
shard, and `stuck` looks at each. An event from no user (a group's message) is apart."""
from typing import List, NamedTuple, Optional

import orjson

from domain.user import UserRecord
from storage import lua
from storage.outage import outage_aware

EVENT_DEDUPE_TTL = 24 * 3600


class TakenIn(NamedTuple):
    """What taking in an event found."""
    status: str                       # NEW, DONE, HELD, TAKEN_OVER
    record: Optional[UserRecord] = None
    holder: Optional[str] = None      # HELD: the process handling it
    held: Optional[dict] = None       # TAKEN_OVER: {"user", "message"} or {"user", "reply"}


class Stuck(NamedTuple):
    """An event found in an inbox, not handled yet."""
    event_id: str
    taken_in: float                   # when (epoch s)
    shard: int                        # whose inbox (on one Redis: 0)


NEW, DONE, HELD, TAKEN_OVER = "new", "done", "held", "taken over"


class WebhookEvents:
    def __init__(self, client, pipeliner, outage, users, processes, token: str, layout):
        self.outage = outage
        self.token = token
        self.keys = layout
        self._pipeliner = pipeliner
        self._users = users
        self._processes = processes
        self._take_in = lua.register(client, "take_in_event.lua")
        self._finish = lua.register(client, "finish_event.lua")
        self.redis = client

    @outage_aware
    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen (an event that changes nothing stored:
        a group's message)."""
        key = self.keys.webhook_event(event_id)
        return bool(self._pipeliner.call(lambda pipe: pipe.set(
            key, 1, nx=True, ex=EVENT_DEDUPE_TTL), key))

    @outage_aware
    def take_in(self, event_id: str, user_id: str, message: list, now: float) -> TakenIn:
        """Take in the event `event_id` saying `message` (actors/inbox.py) to `user_id`'s
        actor, with the user's record read in the same round trip. An event a dead process
        held is taken over, and so is one this process holds: the caller asks only for an
        event it has not in hand (the answer of an earlier take-in, or of its finish, was
        lost)."""
        event = orjson.dumps({"user": user_id, "message": message})
        taken = self._call_take_in(event_id, user_id, event, now, dead="")
        holder = taken.holder
        if taken.status == HELD and (holder == self.token or not self._processes.alive(holder)):
            taken = self._call_take_in(event_id, user_id, event, now, dead=holder)
        return taken

    @outage_aware
    def take_over(self, event_id: str, now: float, shard: int = 0) -> Optional[TakenIn]:
        """An event found in `shard`'s inbox, taken over when its holder has stopped, or when
        it is this process's own: only the caller knows whether this process still has it
        in hand, so it must ask for none it has (actors/inbox.py: none taken in, handled or
        being finished here). None: another live process handles it, or it was handled
        meanwhile."""
        value = self.redis.get(self.keys.event_in(shard, event_id))
        if value is None or value == b"d":
            self.redis.zrem(self.keys.inbox(shard), event_id)
            return None
        holder, held = _holder_and_held(value)
        if holder != self.token and self._processes.alive(holder):
            return None
        taken = self._call_take_in(event_id, held["user"], b"", now, dead=holder)
        return taken if taken.status == TAKEN_OVER else None

    def finish(self, event_id: str, user_id: str, then=None) -> None:
        """`user_id`'s event is handled (or will never be: its handling failed). Sent without
        waiting for Redis's answer (`then()` is called once it is back, or the error):
        should it not get there, the event stays in the inbox, and the look for events left
        behind takes it over (its reply was sent: LINE refuses the token the second time)."""
        event_key = self.keys.webhook_event(event_id, user_id)
        script_keys = [event_key, self.keys.inbox(self.keys.shard_of(user_id)),
                       self.keys.unhandled(user_id)]
        self._pipeliner.send(lambda pipe: self._finish(
            keys=script_keys, args=[self.token, EVENT_DEDUPE_TTL, event_id],
            client=pipe), event_key, then)

    @outage_aware
    def stuck(self, taken_in_before: float, limit: int = 100) -> List[Stuck]:
        """Events taken in before `taken_in_before` and not handled yet, at most `limit` of
        each shard's inbox."""
        inboxes = [self.keys.inbox(shard) for shard in range(self.keys.shards)]
        found = self._pipeliner.call_many(
            [(lambda pipe, inbox=inbox: pipe.zrangebyscore(
                inbox, "-inf", taken_in_before, start=0, num=limit, withscores=True), inbox)
             for inbox in inboxes])
        return [Stuck(event_id.decode(), taken_in, shard)
                for shard, events in enumerate(found) for event_id, taken_in in events]

    def applied(self, user_id: str, reply_token: Optional[str], messages) -> bytes:
        """The event's value once its effect is saved (scripts/save_records.lua writes it):
        the reply still to send."""
        reply = {"user": user_id, "reply": [reply_token, list(messages)]}
        return b"r " + self.token.encode() + b" " + orjson.dumps(reply)

    def _call_take_in(self, event_id, user_id, event, now, dead) -> TakenIn:
        layout = self.keys
        script_keys = [layout.webhook_event(event_id, user_id), layout.user(user_id),
                       layout.inbox(layout.shard_of(user_id)), layout.unhandled(user_id)]
        status, detail, raw = self._pipeliner.call(lambda pipe: self._take_in(
            keys=script_keys, args=[self.token, event, repr(now), EVENT_DEDUPE_TTL, event_id,
                                    dead], client=pipe), script_keys[0])
        status = status.decode()
        record = None
        if status in (NEW, TAKEN_OVER):
            record = UserRecord(user_id) if raw is None else self._users.decode(user_id, raw)
        if status == HELD:
            return TakenIn(status, holder=detail.decode())
        if status == TAKEN_OVER:
            return TakenIn(status, record, held=_holder_and_held(detail)[1])
        return TakenIn(status, record)


def _holder_and_held(value: bytes):
    """(the process that holds an event, what it holds) from its key's "p"/"r" value."""
    state, holder, held = value.split(b" ", 2)
    return holder.decode(), orjson.loads(held)
