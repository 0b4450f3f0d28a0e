"""Family watch links in Redis: one-time codes, who watches whom.

A code is 6 random digits (`secrets`), single use, valid 24 h; a person's new code replaces
their unused one. Redeeming is one atomic script, so two people sending the same code at
once cannot both win, and a watcher who sent 5 wrong codes within an hour gets refused (right
code or not) until that hour is over. Links are two sets: a person's watchers, and whom a
watcher watches, with a hash beside the latter of when each watch began (links made before
it was kept have none). Key names: storage/keys.py; scripts: storage/scripts/*watch*.lua."""
import enum
import secrets
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from domain.watch import MAX_WATCHERS
from storage import keys, lua

CODE_TTL = 24 * 3600
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = 3600
_CANDIDATES = 8  # fresh codes offered to the script at once (a live one is skipped)


class Redeem(enum.Enum):
    STARTED = "started"   # the sender now watches the code's owner
    UNKNOWN = "unknown"   # no such live code (wrong, expired or used)
    OWN = "own"           # the sender's own code
    ALREADY = "already"   # the sender watches the code's owner already (the code stays)
    FULL = "full"         # the owner has MAX_WATCHERS watchers already
    LOCKED = "locked"     # too many wrong codes from the sender this hour
    CHANGED = "changed"   # the code's owner changed since it was read: read again


class Redeemed(NamedTuple):
    status: Redeem
    owner: Optional[str] = None


class Watches:
    def __init__(self, client, pipeliner):
        self.redis = client
        self._pipeliner = pipeliner  # reads made at the same moment share a round trip
        self._new_code = lua.register(client, "new_watch_code.lua")
        self._redeem = lua.register(client, "redeem_watch_code.lua")
        self._unlink = lua.register(client, "unlink_watches.lua")

    def new_code(self, owner: str) -> str:
        while True:
            old = (self.redis.get(keys.watch_code_of(owner)) or b"").decode()
            candidates = [f"{secrets.randbelow(10 ** 6):06d}" for _ in range(_CANDIDATES)]
            code = self._new_code(
                keys=[keys.watch_code_of(owner), keys.watch_code(old),
                      *(keys.watch_code(candidate) for candidate in candidates)],
                args=[owner, CODE_TTL, old, *candidates])
            if code:
                return code.decode()

    def redeem(self, code: str, watcher: str, now: float) -> Redeemed:
        """`watcher` sends `code` at `now` (when the watch begins, if it does)."""
        while True:
            owner = (self.redis.get(keys.watch_code(code)) or b"").decode()
            status, found = self._redeem(
                keys=[keys.watch_code(code), keys.watch_failures(watcher), keys.watchers(owner),
                      keys.watching(watcher), keys.watch_code_of(owner),
                      keys.watching_since(watcher)],
                args=[watcher, MAX_WRONG_CODES, WRONG_CODE_WINDOW, MAX_WATCHERS, owner,
                      repr(now)])
            redeemed = Redeemed(Redeem(status.decode()), found.decode() or None)
            if redeemed.status is not Redeem.CHANGED:
                return redeemed

    def watchers(self, owner: str) -> List[str]:
        key = keys.watchers(owner)
        return _names(self._pipeliner.call(lambda pipe: pipe.smembers(key)))

    def watchers_of_many(self, owners: Sequence[str]) -> Dict[str, List[str]]:
        """`watchers` of each owner, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for owner in owners:
            pipe.smembers(keys.watchers(owner))
        return {owner: _names(members) for owner, members in zip(owners, pipe.execute())}

    def watching(self, watcher: str) -> List[str]:
        """Whom `watcher` watches, in the order the watches began (those from before start
        times were kept first, by id)."""
        watched = _names(self._pipeliner.call(lambda pipe: pipe.smembers(
            keys.watching(watcher))))
        if len(watched) < 2:  # most people watch nobody: one command, shared round trip
            return watched
        since = self._pipeliner.call(lambda pipe: pipe.hgetall(keys.watching_since(watcher)))
        began = {owner.decode(): float(at) for owner, at in since.items()}
        return sorted(watched, key=lambda owner: (owner in began, began.get(owner, 0.0), owner))

    def end_watchers_of(self, owner: str) -> List[str]:
        """Every watch of `owner` ends; returns who watched."""
        return self._unlink_all(owner, keys.watchers, keys.watching,
                                lambda watcher: (watcher, owner))

    def end_watching_by(self, watcher: str) -> List[str]:
        """`watcher` stops watching anyone; returns whom they watched."""
        return self._unlink_all(watcher, keys.watching, keys.watchers,
                                lambda owner: (watcher, owner))

    def _unlink_all(self, user_id: str, own_set, their_set, link) -> List[str]:
        """`link(other)`: (watcher, person watched) of the user's link to `other`."""
        others = _names(self.redis.smembers(own_set(user_id)))
        if others:
            links = [link(other) for other in others]
            self._unlink(keys=[own_set(user_id), *(their_set(other) for other in others),
                               *(keys.watching_since(watcher) for watcher, _ in links)],
                         args=[user_id, *others, *(watched for _, watched in links)])
        return others

    def forget(self, user_id: str) -> Tuple[List[str], List[str]]:
        """Everything about the user: their code, their watchers, whom they watch."""
        code = self.redis.get(keys.watch_code_of(user_id))
        if code is not None:
            self.redis.delete(keys.watch_code(code.decode()))
        self.redis.delete(keys.watch_code_of(user_id), keys.watch_failures(user_id),
                          keys.watching_since(user_id))
        return self.end_watchers_of(user_id), self.end_watching_by(user_id)


def _names(members) -> List[str]:
    """User ids from a Redis set's members, in a stable order."""
    return sorted(member.decode() for member in members)
