"""Family watch links in Redis: one-time codes, who watches whom.

A code is 6 random digits (`secrets`), single use, valid 24 h; a person's new code replaces
their unused one. A watcher who sent 5 wrong codes within an hour gets refused (right code or
not) until that hour is over. Links are two sets: a person's watchers (whom their alerts go
to) and whom a watcher watches (the way back, to end a watch from the watcher's side), with a
hash beside the latter of when each watch began (links made before it was kept have none).
Key names: storage/keys.py; scripts: storage/scripts/*watch*.lua.

A code lives in its owner's shard (its number modulo the shard count says which), so that
making one is one script in one slot. Redeeming and ending a watch touch two people, who on
Redis Cluster are in two slots: they go in steps, one slot each, every step idempotent and
in an order that keeps this true after a crash between any two of them:

    whoever is in a person's watchers has that person in their watching set

(a watcher's set may hold more: a link half made or half ended, which promises nothing and
which ending the watch clears). Alerts read the watchers set only, so a half-made link never
alerts anyone, and a watcher can always end what alerts them.

    redeem   1. the sender's slot: locked? a wrong code is counted; else the owner joins the
                sender's watching set, with the time the watch begins if they were not in
                it (watch_intent.lua)
             2. the owner's slot: the code is used and the sender joins the owner's watchers,
                unless the code changed, the sender is among them already (the code is left
                as it was) or the owner has 3 watchers (redeem_watch_code.lua)
             3. refused in 2: the sender's slot: the owner leaves the sender's watching set
                again, and their start time goes, if step 1 put them there
    unlink   1. each watcher leaves the owner's watchers (the owner's slot)
             2. the owner leaves each watcher's watching set, and their start time goes (the
                watcher's slot)

One Redis runs the same steps. The same code is never won twice: step 2 uses it atomically.
A watch that a crash left half made and a later redeem completes dates from the first try."""
import enum
import secrets
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from domain.watch import MAX_WATCHERS
from storage import keys, lua
from storage.outage import outage_aware

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
    def __init__(self, client, pipeliner, outage, layout=keys.ONE_REDIS):
        self.redis = client
        self.outage = outage
        self.keys = layout
        self._pipeliner = pipeliner  # commands made at the same moment share a round trip
        self._new_code = lua.register(client, "new_watch_code.lua")
        self._intent = lua.register(client, "watch_intent.lua")
        self._redeem = lua.register(client, "redeem_watch_code.lua")

    @outage_aware
    def new_code(self, owner: str) -> str:
        layout = self.keys
        shard = layout.shard_of(owner)
        while True:
            old = (self.redis.get(layout.watch_code_of(owner)) or b"").decode()
            candidates = [_code_in(shard, layout.shards) for _ in range(_CANDIDATES)]
            code = self._new_code(
                keys=[layout.watch_code_of(owner),
                      layout.watch_code(old) if old else layout.watch_code_of(owner),
                      *(layout.watch_code(candidate) for candidate in candidates)],
                args=[owner, CODE_TTL, old, *candidates])
            if code:
                return code.decode()

    @outage_aware
    def redeem(self, code: str, watcher: str, now: float) -> Redeemed:
        """`watcher` sends `code` at `now` (when the watch begins, if it does)."""
        while True:
            owner = (self.redis.get(self.keys.watch_code(code)) or b"").decode()
            status, added = self._intend(watcher, owner, now)
            if status is not None:
                return Redeemed(status, owner if status is Redeem.OWN else None)
            status = self._commit(code, watcher, owner)
            if status in (Redeem.STARTED, Redeem.ALREADY):
                return Redeemed(status, owner)
            if added:
                self._withdraw(watcher, owner)
            if status is not Redeem.CHANGED:
                return Redeemed(status, owner)

    def _intend(self, watcher: str, owner: str, now: float):
        """Step 1, the sender's slot: (a refusal, or None and whether the owner was added
        to the sender's watching set, with `now` as the watch's start)."""
        layout = self.keys
        status, added = self._intent(
            keys=[layout.watch_failures(watcher), layout.watching(watcher),
                  layout.watching_since(watcher)],
            args=[watcher, MAX_WRONG_CODES, WRONG_CODE_WINDOW, owner, repr(now)])
        status = status.decode()
        return (None, bool(added)) if status == "ready" else (Redeem(status), False)

    def _commit(self, code: str, watcher: str, owner: str) -> Redeem:
        """Step 2, the owner's slot: the code used, the watcher among the owner's watchers
        (ALREADY: they were, and the code is left as it was)."""
        layout = self.keys
        return Redeem(self._redeem(
            keys=[layout.watch_code(code), layout.watchers(owner), layout.watch_code_of(owner)],
            args=[watcher, MAX_WATCHERS, owner]).decode())

    def _withdraw(self, watcher: str, owner: str) -> None:
        """Step 3, the sender's slot: the owner's side refused; step 1 undone."""
        self._leave_watching([(owner, watcher)])

    @outage_aware
    def watchers(self, owner: str) -> List[str]:
        key = self.keys.watchers(owner)
        return _names(self._pipeliner.call(lambda pipe: pipe.smembers(key), key))

    @outage_aware
    def watchers_of_many(self, owners: Sequence[str]) -> Dict[str, List[str]]:
        """`watchers` of each owner, in one round trip."""
        if not owners:
            return {}
        keys_of = [self.keys.watchers(owner) for owner in owners]
        found = self._pipeliner.call_many(
            [(lambda pipe, key=key: pipe.smembers(key), key) for key in keys_of])
        return {owner: _names(members) for owner, members in zip(owners, found)}

    @outage_aware
    def watching(self, watcher: str) -> List[str]:
        """Whom `watcher` watches, in the order the watches began (those from before start
        times were kept first, by id)."""
        key = self.keys.watching(watcher)
        watched = _names(self._pipeliner.call(lambda pipe: pipe.smembers(key), key))
        if len(watched) < 2:  # most people watch nobody: one command, shared round trip
            return watched
        key = self.keys.watching_since(watcher)
        since = self._pipeliner.call(lambda pipe: pipe.hgetall(key), key)
        began = {owner.decode(): float(at) for owner, at in since.items()}
        return sorted(watched, key=lambda owner: (owner in began, began.get(owner, 0.0), owner))

    @outage_aware
    def end_watchers_of(self, owner: str) -> List[str]:
        """Every watch of `owner` ends; returns who watched."""
        return self._end(self.keys.watchers(owner), lambda watcher: (owner, watcher))

    @outage_aware
    def end_watching_by(self, watcher: str) -> List[str]:
        """`watcher` stops watching anyone; returns whom they watched (a link half made, by
        a redeem cut short, ends too, and is not counted)."""
        return self._end(self.keys.watching(watcher), lambda owner: (owner, watcher))

    def _end(self, own_set: str, link) -> List[str]:
        """End the links to each member of `own_set` (`link(member)`: (owner, watcher)), in
        the unlink's two steps; returns the members whose link was there."""
        others = _names(self.redis.smembers(own_set))
        if not others:
            return []
        links = [link(other) for other in others]
        ended = self._leave_watchers(links)
        self._leave_watching(links)
        return [other for other, gone in zip(others, ended) if gone]

    def _leave_watchers(self, links: Sequence[Tuple[str, str]]) -> List[bool]:
        """Unlink step 1, in each owner's slot: the watcher leaves the owner's watchers.
        Per (owner, watcher) link: whether it was there."""
        key = self.keys.watchers
        return [bool(gone) for gone in self._pipeliner.call_many(
            [(lambda pipe, owner=owner, watcher=watcher: pipe.srem(key(owner), watcher),
              key(owner)) for owner, watcher in links])]

    def _leave_watching(self, links: Sequence[Tuple[str, str]]) -> None:
        """Unlink step 2, in each watcher's slot: the owner leaves the watcher's watching
        set, then the watch's start time goes (one round trip)."""
        watching, since = self.keys.watching, self.keys.watching_since
        calls = []
        for owner, watcher in links:
            calls += [(lambda pipe, o=owner, w=watcher: pipe.srem(watching(w), o),
                       watching(watcher)),
                      (lambda pipe, o=owner, w=watcher: pipe.hdel(since(w), o), since(watcher))]
        self._pipeliner.call_many(calls)

    @outage_aware
    def forget(self, user_id: str) -> Tuple[List[str], List[str]]:
        """Everything about the user: their code, their watchers, whom they watch."""
        layout = self.keys
        code = self.redis.get(layout.watch_code_of(user_id))
        if code is not None:
            self.redis.delete(layout.watch_code(code.decode()))
        self.redis.delete(layout.watch_code_of(user_id), layout.watch_failures(user_id),
                          layout.watching_since(user_id))
        return self.end_watchers_of(user_id), self.end_watching_by(user_id)


def _code_in(shard: int, shards: int) -> str:
    """A random code whose number is `shard` modulo `shards` (one shard: any code)."""
    return f"{secrets.randbelow(-(-(keys.WATCH_CODES - shard) // shards)) * shards + shard:06d}"


def _names(members) -> List[str]:
    """User ids from a Redis set's members, in a stable order."""
    return sorted(member.decode() for member in members)
