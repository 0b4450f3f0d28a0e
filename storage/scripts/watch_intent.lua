-- Step 1 of redeeming a watch code (storage/watches.py), in the sender's slot: refuse a sender
-- locked out or their own code, count a wrong code, and otherwise put the owner in the
-- sender's watching set, with when the watch begins, before the owner's side
-- (redeem_watch_code.lua) is written.
--
-- KEYS[1] the sender's wrong-code counter, KEYS[2] whom the sender watches, KEYS[3] when each
--   watch of the sender began (a hash: person watched -> epoch s).
-- ARGV[1] the sender, ARGV[2] wrong codes allowed, ARGV[3] their window in seconds,
--   ARGV[4] the code's owner as the caller read it ('' : no such code), ARGV[5] now (epoch s).
-- Guarantees: after ARGV[2] wrong codes within the window every code from the sender is
--   refused until the window has passed; a start time is written only with the owner's
--   arrival in the set (one already there, watched or half linked, keeps theirs).
-- Returns: {status, added}: 'locked', 'unknown' (counted), 'own', or 'ready' with added 1
--   when the owner was not in the set before (the caller takes it out again, with its start
--   time, if the owner's side refuses).
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[2]) then
  return {'locked', 0}
end
if ARGV[4] == '' then
  if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  return {'unknown', 0}
end
if ARGV[4] == ARGV[1] then return {'own', 0} end
local added = redis.call('SADD', KEYS[2], ARGV[4])
if added == 1 then redis.call('HSET', KEYS[3], ARGV[4], ARGV[5]) end
return {'ready', added}
