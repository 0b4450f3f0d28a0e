-- Count pushes LINE took this month, for a whole multicast's recipients at once.
--
-- KEYS[1] the month's pushes per user (a hash), KEYS[2] the month's watch alerts.
-- ARGV[1] seconds to keep them, ARGV[2] alerts to add, then the user ids.
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
if #ARGV > 2 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
