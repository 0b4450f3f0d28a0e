"""Redis outages as the rest of the bot sees them: a storage call that finds Redis unreachable
(a restart, a failover, the network) raises StorageUnavailable, and the outage is logged once
when it starts and once when it ends, not by every caller."""
import functools
import logging

import redis

log = logging.getLogger("storage.store")

# LOADING (a restarting Redis reading its data back) is a ConnectionError too.
_OUTAGE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class StorageUnavailable(Exception):
    """Redis cannot be reached right now: nothing was decided on it; try again later."""


class Outage:
    """Whether the last call on a client found Redis unreachable (shared by its stores)."""

    def __init__(self):
        self.ongoing = False

    def seen(self, exc: Exception) -> StorageUnavailable:
        if not self.ongoing:
            self.ongoing = True
            log.warning("Redis unavailable (%s); retrying until it is back", type(exc).__name__)
        return StorageUnavailable(type(exc).__name__)

    def over(self) -> None:
        if self.ongoing:
            self.ongoing = False
            log.warning("Redis available again")


def outage_aware(method):
    """For methods of a store that has an `outage` (Outage) attribute."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except _OUTAGE_ERRORS as exc:
            raise self.outage.seen(exc) from exc
        self.outage.over()
        return result
    return call
