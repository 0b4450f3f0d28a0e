-- A lease on telling one watcher one alert, held by one process (which may take it again).
--
-- KEYS[1] the claim. ARGV[1] this process's token, ARGV[2] lease ms.
-- Returns: 0 when this process holds it now, else the ms left on another process's lease.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return math.max(1, redis.call('PTTL', KEYS[1])) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
