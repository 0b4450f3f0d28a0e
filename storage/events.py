"""Webhook events already handled: LINE redelivers an event it is not sure we got, with the
same webhookEventId. Each id is kept a day (keys.webhook_event, SET NX EX)."""
from typing import Optional, Tuple

from domain.user import UserRecord
from storage import keys, lua
from storage.outage import outage_aware

EVENT_DEDUPE_TTL = 24 * 3600


class WebhookEvents:
    def __init__(self, client, pipeliner, outage, users):
        self.outage = outage
        self._pipeliner = pipeliner
        self._users = users
        self._first_delivery_reading = lua.register(client, "first_delivery_reading.lua")

    @outage_aware
    def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen."""
        return bool(self._pipeliner.call(lambda pipe: pipe.set(
            keys.webhook_event(event_id), 1, nx=True, ex=EVENT_DEDUPE_TTL)))

    @outage_aware
    def first_delivery_reading(self, event_id: str,
                               user_id: str) -> Tuple[bool, Optional[UserRecord]]:
        """(`first_delivery`, and when it is the first: the user's record, a new one when
        none is stored), in one round trip."""
        first, raw = self._pipeliner.call(lambda pipe: self._first_delivery_reading(
            keys=[keys.webhook_event(event_id), keys.user(user_id)], args=[EVENT_DEDUPE_TTL],
            client=pipe))
        if not first:
            return False, None
        return True, UserRecord(user_id) if raw is None else self._users.decode(user_id, raw)
