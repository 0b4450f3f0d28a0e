"""The month's message usage against LINE's quota (GET /v2/bot/message/quota and
/v2/bot/message/quota/consumption), read at most once a `max_age` (a minute) and never on a
caller's time: `current()` answers from what was read last and asks LINE in the background.
"""
import logging
from dataclasses import dataclass
from typing import Optional

import gevent

from outbox.clock import real_seconds
from outbox.account import LineApiError

log = logging.getLogger(__name__)

WARNING_SHARE = 0.8  # from 80 % of the monthly limit on, the quota is shown as a warning


@dataclass(frozen=True)
class QuotaUsage:
    used: int                # messages counted this month (pushes: one per recipient)
    limit: Optional[int]     # the monthly limit; None when the plan has none

    @property
    def share(self) -> Optional[float]:
        if self.limit is None:
            return None
        return self.used / self.limit if self.limit else 1.0

    @property
    def warning(self) -> bool:
        return self.share is not None and self.share >= WARNING_SHARE

    def as_dict(self) -> dict:
        return {"used": self.used, "limit": self.limit, "share": self.share,
                "warning": self.warning}


class MessageQuota:
    """`api` is an outbox.account.AccountApi."""

    def __init__(self, api, *, timeout: float = 5.0, max_age: float = 60.0,
                 clock=real_seconds, spawn=gevent.spawn):
        self._api = api
        self._timeout = timeout
        self._max_age = max_age
        self._clock = clock
        self._spawn = spawn
        self._usage = None
        self._asked_at = None     # when LINE was last asked, answered or not
        self._asking = None       # the greenlet asking now

    def current(self) -> Optional[QuotaUsage]:
        """The last figures read (None before the first answer). Never waits for LINE: when
        they are older than `max_age`, a background refresh starts for the next caller."""
        stale = self._asked_at is None or self._clock() - self._asked_at >= self._max_age
        if stale and self._asking is None:
            self._asking = self._spawn(self._refresh_in_background)
        return self._usage

    def refresh(self) -> Optional[QuotaUsage]:
        """Ask LINE now (two requests); on failure keep the last figures. Never raises."""
        self._asked_at = self._clock()
        try:
            limit = self._api.quota_limit(self._timeout)
            used = self._api.quota_used(self._timeout)
        except LineApiError as exc:
            log.warning("LINE message quota not read: status %s", exc.status)
            return self._usage
        except Exception as exc:  # timeouts, connection errors, a body not as documented
            log.warning("LINE message quota not read: %s", type(exc).__name__)
            return self._usage
        self._usage = QuotaUsage(used=used, limit=limit)
        return self._usage

    def _refresh_in_background(self) -> None:
        try:
            self.refresh()
        finally:
            self._asking = None
