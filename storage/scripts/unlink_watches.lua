-- End links from one side: a person's watchers, or the people a watcher watches.
--
-- KEYS[1] the user's set of the other side's ids; then, for each other id (in the order of
--   ARGV[2..n+1]), its set on the way back; then, for each, the hash of when its link began
--   (the watcher's).
-- ARGV[1] the user; then the n other ids the caller read from KEYS[1]; then, for each, its
--   link's field in that hash (the id of the person watched).
-- Guarantees: both directions of each link read, and its start time, end together; a link
--   made since the read is left whole.
local n = (#ARGV - 1) / 2
for i = 1, n do
  redis.call('SREM', KEYS[1], ARGV[1 + i])
  redis.call('SREM', KEYS[1 + i], ARGV[1])
  redis.call('HDEL', KEYS[1 + n + i], ARGV[1 + n + i])
end
return n
