-- Take the users due by now for this process: their scores move a lease ahead, so that no
-- other process wakes them meanwhile. The save after their ask sets their real next due
-- time; if this process dies first, they come due again when the lease runs out.
--
-- KEYS[1] the due index (a sorted set of user ids scored by epoch seconds).
-- ARGV[1] now, ARGV[2] the lease's end (epoch s), ARGV[3] at most this many users.
-- Returns: {the users taken, the next score left in the index or false}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, user in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], user) end
local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {due, next[2] or false}
