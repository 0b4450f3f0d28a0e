-- A webhook event seen for the first time, and then the record of the user it is for, in
-- one round trip.
--
-- KEYS[1] the event's dedupe key, KEYS[2] the user's record. ARGV[1] seconds to remember
--   the event.
-- Returns: {0, false} when the event was seen before; {1, the record or false}.
if not redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then return {0, false} end
return {1, redis.call('GET', KEYS[2])}
