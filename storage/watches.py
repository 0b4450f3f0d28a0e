"""Family watch links in Redis (DESIGN.md §7.3): one-time codes, who watches whom.

A code is 6 random digits (`secrets`), single use, valid 24 h; a person's new code replaces
their unused one. Redeeming is one atomic script, so two people sending the same code at
once cannot both win, and a watcher who sent 5 wrong codes within an hour gets refused (right
code or not) until that hour is over. Links are two sets: a person's watchers, and whom a
watcher watches. Key names: storage/keys.py."""
import enum
import secrets
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from domain.watch import MAX_WATCHERS
from storage import keys

CODE_TTL = 24 * 3600
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = 3600
_CANDIDATES = 8  # fresh codes offered to the script at once (a live one is skipped)

# KEYS[1] the person's current-code key; ARGV[1] the person, ARGV[2] ttl, ARGV[3] code key
# prefix, then candidate codes. Returns the new code (false: every candidate was taken).
_NEW_CODE = """
local old = redis.call('GET', KEYS[1])
if old then redis.call('DEL', ARGV[3] .. old) end
for i = 4, #ARGV do
  if redis.call('SET', ARGV[3] .. ARGV[i], ARGV[1], 'NX', 'EX', ARGV[2]) then
    redis.call('SET', KEYS[1], ARGV[i], 'EX', ARGV[2])
    return ARGV[i]
  end
end
return false
"""

# KEYS[1] the code's key, KEYS[2] the sender's wrong-code counter; ARGV[1] the sender,
# ARGV[2] wrong codes allowed, ARGV[3] their window s, ARGV[4] watchers allowed, then the key
# prefixes (storage/keys.py) of a person's watchers, whom a watcher watches, and a person's
# code. Returns {status, owner}.
_REDEEM = """
local sender = ARGV[1]
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then
  return {'locked', ''}
end
local owner = redis.call('GET', KEYS[1])
if not owner then
  if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
  return {'unknown', ''}
end
if owner == sender then return {'own', owner} end
local watchers = ARGV[5] .. owner
if redis.call('SISMEMBER', watchers, sender) == 0
    and redis.call('SCARD', watchers) >= tonumber(ARGV[4]) then
  return {'full', owner}
end
redis.call('DEL', KEYS[1], ARGV[7] .. owner)
redis.call('SADD', watchers, sender)
redis.call('SADD', ARGV[6] .. sender, owner)
return {'started', owner}
"""

# Ends links from one side. KEYS[1] the set of the other side's ids; ARGV[1] the user,
# ARGV[2] the key prefix of the other side's sets. Returns the ids unlinked.
_UNLINK = """
local others = redis.call('SMEMBERS', KEYS[1])
for _, other in ipairs(others) do redis.call('SREM', ARGV[2] .. other, ARGV[1]) end
redis.call('DEL', KEYS[1])
return others
"""


class Redeem(enum.Enum):
    STARTED = "started"   # the sender now watches the code's owner
    UNKNOWN = "unknown"   # no such live code (wrong, expired or used)
    OWN = "own"           # the sender's own code
    FULL = "full"         # the owner has MAX_WATCHERS watchers already
    LOCKED = "locked"     # too many wrong codes from the sender this hour


class Redeemed(NamedTuple):
    status: Redeem
    owner: Optional[str] = None


class Watches:
    def __init__(self, client, pipeliner):
        self.redis = client
        self._pipeliner = pipeliner  # reads made at the same moment share a round trip
        self._new_code = client.register_script(_NEW_CODE)
        self._redeem = client.register_script(_REDEEM)
        self._unlink = client.register_script(_UNLINK)

    def new_code(self, owner: str) -> str:
        while True:
            candidates = [f"{secrets.randbelow(10 ** 6):06d}" for _ in range(_CANDIDATES)]
            code = self._new_code(keys=[keys.watch_code_of(owner)],
                                  args=[owner, CODE_TTL, keys.watch_code(""), *candidates])
            if code:
                return code.decode()

    def redeem(self, code: str, watcher: str) -> Redeemed:
        status, owner = self._redeem(
            keys=[keys.watch_code(code), keys.watch_failures(watcher)],
            args=[watcher, MAX_WRONG_CODES, WRONG_CODE_WINDOW, MAX_WATCHERS, keys.watchers(""),
                  keys.watching(""), keys.watch_code_of("")])
        return Redeemed(Redeem(status.decode()), owner.decode() or None)

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
        return _names(self.redis.smembers(keys.watching(watcher)))

    def end_watchers_of(self, owner: str) -> List[str]:
        """Every watch of `owner` ends; returns who watched."""
        return _names(self._unlink(keys=[keys.watchers(owner)],
                                   args=[owner, keys.watching("")]))

    def end_watching_by(self, watcher: str) -> List[str]:
        """`watcher` stops watching anyone; returns whom they watched."""
        return _names(self._unlink(keys=[keys.watching(watcher)],
                                   args=[watcher, keys.watchers("")]))

    def forget(self, user_id: str) -> Tuple[List[str], List[str]]:
        """Everything about the user: their code, their watchers, whom they watch."""
        code = self.redis.get(keys.watch_code_of(user_id))
        if code is not None:
            self.redis.delete(keys.watch_code(code.decode()))
        self.redis.delete(keys.watch_code_of(user_id), keys.watch_failures(user_id))
        return self.end_watchers_of(user_id), self.end_watching_by(user_id)


def _names(members) -> List[str]:
    """User ids from a Redis set's members, in a stable order."""
    return sorted(member.decode() for member in members)
