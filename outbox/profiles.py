"""Users' LINE display names (GET /v2/bot/profile/{userId}), cached.

A name LINE gave is kept for `ttl` (6 h); a user LINE does not know (404: not a friend, or
blocked) or a lookup that failed is remembered as "no name" for `miss_ttl`, so a broken API
is not asked again for every message. Lookups never raise: no name is None, and the caller
chooses what to say instead. At most `max_entries` users are kept (least recently used go).
"""
import collections
import logging
from typing import Iterable, Optional

from gevent.event import AsyncResult
from gevent.lock import BoundedSemaphore
from gevent.pool import Pool

from logsafe import short_id
from outbox.clock import real_seconds
from outbox.account import LineApiError

log = logging.getLogger(__name__)


class DisplayNames:
    """`display_name(user_id)` asks LINE when the name is not cached (one request per user
    at a time; concurrent callers share it). `cached(user_id)` and `fetch_soon(user_ids)`
    never wait for LINE: for pages that show what is known and fill in the rest later.
    `api` is an outbox.account.AccountApi."""

    MAX_ASKING = 32  # lookups at once (the account API's connection pool is sized for them)

    def __init__(self, api, *, timeout: float = 5.0, ttl: float = 6 * 3600.0,
                 miss_ttl: float = 60.0, max_entries: int = 10_000,
                 background: Optional[Pool] = None, clock=real_seconds):
        self._api = api
        self._timeout = timeout
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries = collections.OrderedDict()  # user id -> (name or None, expires at)
        self._pending = {}                          # user id -> AsyncResult of its lookup
        # fetch_soon's lookups, at most 4 at a time unless the caller brings a pool
        self._background = background if background is not None else Pool(4)
        self._asking = BoundedSemaphore(self.MAX_ASKING)
        self._failing = False

    def display_name(self, user_id: str) -> Optional[str]:
        """The user's display name, asking LINE if it is not cached; None if LINE cannot
        tell (not a friend, blocked, an error, a timeout). Never raises."""
        known, name = self._lookup_cache(user_id)
        if known:
            return name
        pending = self._pending.get(user_id)
        if pending is not None:
            return pending.wait(self._timeout)  # None if it takes longer than our own would
        return self._fetch(user_id, self._claim(user_id))

    def cached(self, user_id: str) -> Optional[str]:
        """The cached name, without asking LINE."""
        return self._lookup_cache(user_id)[1]

    def fetch_soon(self, user_ids: Iterable[str]) -> None:
        """Look up, in the background, the names not cached yet. Never waits: when the
        background lookups are all busy, the rest are left for a later call."""
        for user_id in user_ids:
            if self._background.full():
                return
            if user_id not in self._pending and not self._lookup_cache(user_id)[0]:
                self._background.spawn(self._fetch, user_id, self._claim(user_id))

    def _lookup_cache(self, user_id):
        """(known, name): known is False when LINE has to be asked."""
        entry = self._entries.get(user_id)
        if entry is None:
            return False, None
        name, expires_at = entry
        if expires_at <= self._clock():
            del self._entries[user_id]
            return False, None
        self._entries.move_to_end(user_id)
        return True, name

    def _claim(self, user_id: str) -> AsyncResult:
        """Mark a lookup as under way, so nobody starts a second one for the same user."""
        pending = self._pending[user_id] = AsyncResult()
        return pending

    def _fetch(self, user_id: str, pending: AsyncResult) -> Optional[str]:
        name = None
        try:
            name = self._ask_line(user_id)
        finally:
            self._remember(user_id, name, self._ttl if name is not None else self._miss_ttl)
            del self._pending[user_id]
            pending.set(name)
        return name

    def _ask_line(self, user_id: str) -> Optional[str]:
        try:
            with self._asking:   # bounded: the API's connection pool is sized for these
                name = self._api.display_name(user_id, self._timeout)
        except LineApiError as exc:
            if exc.status == 404:
                log.debug("no profile for %s", short_id(user_id))
                self._working()
                return None
            self._failed(f"status {exc.status}")
            return None
        except Exception as exc:  # a timeout, a connection error, a body not as documented:
            self._failed(type(exc).__name__)  # the caller has a fallback, never an exception
            return None
        self._working()
        return name

    def _remember(self, user_id, name, ttl):
        self._entries[user_id] = (name, self._clock() + ttl)
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _failed(self, why: str) -> None:
        # One warning while lookups keep failing, not one per user.
        if not self._failing:
            log.warning("LINE profile lookups failing (%s): names shown as unknown", why)
        self._failing = True

    def _working(self) -> None:
        if self._failing:
            log.info("LINE profile lookups work again")
        self._failing = False
