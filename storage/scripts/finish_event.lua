-- A webhook event handled: remembered as such (a redelivery is a duplicate), out of the inbox
-- and out of its user's events not handled yet, if this process still holds it.
--
-- KEYS[1] the event's key, KEYS[2] the inbox, KEYS[3] the user's events not handled yet.
--   ARGV[1] this process's token, ARGV[2] seconds an event is remembered, ARGV[3] the event
--   id.
-- Returns: 1, or 0 when another process took it over meanwhile (it is theirs to finish).
local value = redis.call('GET', KEYS[1])
if value and value ~= 'd' and string.match(value, '^%a (%S+) ') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'd', 'EX', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
