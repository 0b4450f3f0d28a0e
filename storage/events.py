"""Webhook events already handled: LINE redelivers an event it is not sure we got, with the
same webhookEventId. Each id is kept a day (keys.webhook_event, SET NX EX): an event from a
user in the user's shard (its mark is read with the user's record), any other apart."""
from typing import Optional, Tuple

from domain.user import UserRecord
from storage import lua
from storage.outage import outage_aware

EVENT_DEDUPE_TTL = 24 * 3600


class WebhookEvents:
    def __init__(self, client, pipeliner, outage, users, layout):
        self.outage = outage
        self.keys = layout
        self._pipeliner = pipeliner
        self._users = users
        self._first_delivery_reading = lua.register(client, "first_delivery_reading.lua")

    @outage_aware
    def first_delivery(self, event_id: str, user_id: str = None) -> bool:
        """True the first time an event id is seen (`user_id`: the user it is from, whose
        shard keeps its mark)."""
        key = self.keys.webhook_event(event_id, user_id)
        return bool(self._pipeliner.call(lambda pipe: pipe.set(
            key, 1, nx=True, ex=EVENT_DEDUPE_TTL), key))

    @outage_aware
    def first_delivery_reading(self, event_id: str,
                               user_id: str) -> Tuple[bool, Optional[UserRecord]]:
        """(`first_delivery`, and when it is the first: the user's record, a new one when
        none is stored), in one round trip."""
        script_keys = [self.keys.webhook_event(event_id, user_id), self.keys.user(user_id)]
        first, raw = self._pipeliner.call(lambda pipe: self._first_delivery_reading(
            keys=script_keys, args=[EVENT_DEDUPE_TTL], client=pipe), script_keys[0])
        if not first:
            return False, None
        return True, UserRecord(user_id) if raw is None else self._users.decode(user_id, raw)
