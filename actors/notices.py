"""Pushes to a user's watchers (and to the user about their watchers): watch alerts, and
the notices that a watch started or ended (docs/design.md, Family watch).

An alert's retry key is derived from what it is (whose round, which alert, to whom), so a
resend after a crash or by a second process is one LINE answers 409: never shown twice.
Every push LINE takes is counted for the month (they count against the message quota)."""
import logging
import uuid

import gevent

from chat import texts
from domain.wallclock import month_of, zone
from logsafe import short_id
from outbox.line import PushResult

log = logging.getLogger(__name__)

_ALERT_KEYS = uuid.UUID("5e0b7c2e-3f4a-4d8e-9a51-6c1f0d2b7e93")


def alert_retry_key(owner: str, alert_id: str, watcher: str) -> str:
    return str(uuid.uuid5(_ALERT_KEYS, f"{owner}:{alert_id}:{watcher}"))


class Notices:
    def __init__(self, outbox, usage, timer, timezone: str):
        self._outbox = outbox
        self._usage = usage
        self._timer = timer
        self._zone = zone(timezone)

    def name_of(self, user_id: str) -> str:
        """The LINE display name, or 友だち when LINE cannot tell."""
        return self._outbox.names.display_name(user_id) or texts.SOMEONE

    def names_of(self, user_ids) -> list:
        """`name_of` each, the lookups LINE has to answer made at once."""
        user_ids = list(user_ids)
        if len(user_ids) < 2:
            return [self.name_of(user_id) for user_id in user_ids]
        lookups = [gevent.spawn(self.name_of, user_id) for user_id in user_ids]
        gevent.joinall(lookups, raise_error=True)
        return [lookup.value for lookup in lookups]

    def alert(self, watcher: str, text: str, retry_key: str) -> PushResult:
        result = self._outbox.push(watcher, [text], retry_key)
        if result is PushResult.DELIVERED:
            self.count([watcher], alerts=1)
        elif not result.shown and result is not PushResult.FAILED:
            log.warning("watch alert to %s not shown: %s", short_id(watcher), result.value)
        return result

    def notify_soon(self, user_ids, text: str) -> None:
        """A notice (a watch started or ended) from a greenlet of its own."""
        for user_id in user_ids:
            gevent.spawn(self._notify, user_id, text)

    def _notify(self, user_id: str, text: str) -> None:
        if self._outbox.push(user_id, [text], str(uuid.uuid4())) is PushResult.DELIVERED:
            self.count([user_id])

    def count(self, user_ids, alerts: int = 0) -> None:
        """Count pushes LINE took this month; a failure to count only loses a figure."""
        month = month_of(self._timer.now(), self._zone)
        try:
            self._usage.count_pushes(month, user_ids, alerts)
        except Exception as exc:
            log.warning("could not count pushes: %s", type(exc).__name__)
