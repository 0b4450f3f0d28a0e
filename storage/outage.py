"""Redis outages as the rest of the bot sees them: a storage call that finds Redis unreachable
(a restart, a failover, the network) raises StorageUnavailable, and the outage is logged once
when it starts and once when it ends, not by every caller.

On Redis Cluster a failover shows as more than a refused connection: the cluster is down
for a moment (CLUSTERDOWN, MASTERDOWN, TRYAGAIN), a slot has moved (MOVED, ASK), a
slot has no master yet, or a master was demoted and refuses writes (READONLY). Each is an
outage like a restart: nothing was decided on it, the slot map is read again, and the
caller tries again later."""
import functools
import logging
import time

from redis import exceptions

log = logging.getLogger("storage.store")

# LOADING (a restarting Redis reading its data back) is a ConnectionError too.
OUTAGE_ERRORS = (exceptions.ConnectionError, exceptions.TimeoutError,
                 exceptions.ClusterError, exceptions.TryAgainError, exceptions.AskError,
                 exceptions.SlotNotCoveredError, exceptions.ReadOnlyError)


class StorageUnavailable(Exception):
    """Redis cannot be reached right now: nothing was decided on it; try again later."""


class Outage:
    """Whether the last call on a client found Redis unreachable (shared by its stores).
    `on_seen`: called at each outage error (the cluster's slot map is read again).
    `partial`: on a cluster one master may fail over while the others answer: the outage is
    over once calls have succeeded for QUIET_SECONDS without an error, not at the first call
    another master answers (else a failover would log a line pair per call). The callers
    retry every second, so a master still down shows an error within that time."""

    QUIET_SECONDS = 3.0

    def __init__(self, on_seen=None, partial=False):
        self.ongoing = False
        self._on_seen = on_seen
        self._partial = partial
        self._last_error = 0.0

    def seen(self, exc: Exception) -> StorageUnavailable:
        if self._on_seen is not None:
            self._on_seen()
        if self._partial:
            self._last_error = time.monotonic()
        if not self.ongoing:
            self.ongoing = True
            log.warning("Redis unavailable (%s); retrying until it is back", type(exc).__name__)
        return StorageUnavailable(type(exc).__name__)

    def over(self) -> None:
        if self.ongoing and (not self._partial
                             or time.monotonic() - self._last_error >= self.QUIET_SECONDS):
            self.ongoing = False
            log.warning("Redis available again")


def outage_aware(method):
    """For methods of a store that has an `outage` (Outage) attribute."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except OUTAGE_ERRORS as exc:
            raise self.outage.seen(exc) from exc
        self.outage.over()
        return result
    return call
