-- A watcher sends a code: start watching its owner.
--
-- KEYS[1] the code, KEYS[2] the sender's wrong-code counter, KEYS[3] the owner's watchers,
--   KEYS[4] whom the sender watches, KEYS[5] the owner's current-code key, KEYS[6] when each
--   watch of the sender began. (KEYS[3] and [5] are any keys when the caller found no owner.)
-- ARGV[1] the sender, ARGV[2] wrong codes allowed, ARGV[3] their window in seconds,
--   ARGV[4] watchers allowed, ARGV[5] the code's owner as the caller read it ('' : none),
--   ARGV[6] now (epoch seconds): when the watch begins.
-- Guarantees: a code is used once (two senders at once: one wins); after ARGV[2] wrong codes
--   within the window every code from the sender is refused until the window has passed; a
--   code sent by someone who already watches its owner is left as it was, still usable.
-- Returns: {status, owner}, status one of 'locked', 'unknown', 'own', 'already', 'full',
--   'started', or 'changed' (the code's owner is not the one read: the caller reads again).
local sender, owner = ARGV[1], ARGV[5]
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[2]) then
  return {'locked', ''}
end
if (redis.call('GET', KEYS[1]) or '') ~= owner then return {'changed', ''} end
if owner == '' then
  if redis.call('INCR', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
  return {'unknown', ''}
end
if owner == sender then return {'own', owner} end
if redis.call('SISMEMBER', KEYS[3], sender) == 1 then return {'already', owner} end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {'full', owner} end
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('SADD', KEYS[3], sender)
redis.call('SADD', KEYS[4], owner)
redis.call('HSET', KEYS[6], owner, ARGV[6])
return {'started', owner}
