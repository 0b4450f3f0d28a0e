-- Save user records, each with a compare-and-set on its version, together with the history
-- changes its new state brings and its place in the due index: all in one atomic call, each
-- user on their own (one user's conflict does not stop another's save).
--
-- KEYS, per user i (3 each): the record, the user's history, the due index.
-- ARGV, per user: the version read, the new stored value, the user id, the next due time
--   ('' : none, the user leaves the due index), n, then n history triples
--   (day number, outcome index, delta).
-- Guarantees: a record is written only if nobody wrote it since it was read (version
--   unchanged; a missing record counts as version 0); its history changes are applied
--   exactly when it is written.
-- Returns: per user, 1 (saved) or 0 (changed meanwhile: nothing written).
--! include record_version.lua
--! include tally.lua
local saved, a = {}, 0
for i = 1, #KEYS / 3 do
  local record_key, history_key, due_key = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local changes = tonumber(ARGV[a + 5])
  if record_version(redis.call('GET', record_key)) == tonumber(ARGV[a + 1]) then
    redis.call('SET', record_key, ARGV[a + 2])
    if ARGV[a + 4] == '' then redis.call('ZREM', due_key, ARGV[a + 3])
    else redis.call('ZADD', due_key, ARGV[a + 4], ARGV[a + 3]) end
    apply_tallies(history_key, a + 6, a + 5 + 3 * changes)
    saved[i] = 1
  else
    saved[i] = 0
  end
  a = a + 5 + 3 * changes
end
return saved
