-- A webhook event for a user, taken in before it is answered 200: kept with what it says until
-- it is handled, so that a process that dies meanwhile leaves it to another (storage/events.py).
--
-- KEYS[1] the event's key, KEYS[2] the user's record, KEYS[3] the inbox (events not handled
--   yet: a sorted set of event ids scored by when they were taken in), KEYS[4] the user's
--   events not handled yet (the same, for the user alone: scripts/claim_asks.lua reads it).
-- ARGV[1] this process's token, ARGV[2] the event as stored ('{"user": ..., "message": ...}'),
--   ARGV[3] now (epoch s), ARGV[4] seconds an event is remembered, ARGV[5] the event id,
--   ARGV[6] the holder the caller takes it from ('' : none): a process found dead, or this
--   very process when it no longer has the event in hand (actors/inbox.py).
-- The event's key holds "p <holder> <event>" while a process handles it, "r <holder> <reply>"
--   once the user's record was saved with its effect and its reply has still to go out, and
--   "d" once handled.
-- Guarantees: one process at a time holds an event; an event held by ARGV[6] is taken over
--   with what it holds. The user's events not handled yet lose members over ARGV[4] old.
-- Returns: {'new', '', record or false}: this process handles it (what it says: ARGV[2]);
--   {'done', '', false}; {'held', holder, false}: a live process does;
--   {'taken over', held value, record or false}: "p ..." (handle what it says) or "r ..."
--   (send the reply it holds).
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], 'p ' .. ARGV[1] .. ' ' .. ARGV[2], 'EX', ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[4]))
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[5])
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  return {'new', '', redis.call('GET', KEYS[2])}
end
if value == 'd' then return {'done', '', false} end
local state, holder = string.match(value, '^(%a) (%S+) ')
if holder ~= ARGV[6] then return {'held', holder, false} end
local held = state .. ' ' .. ARGV[1] .. string.sub(value, #state + #holder + 2)
redis.call('SET', KEYS[1], held, 'EX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[5])
return {'taken over', held, redis.call('GET', KEYS[2])}
