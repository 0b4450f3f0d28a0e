-- Save user records, each with a compare-and-set on its version, together with the history
-- changes its new state brings, its place in the due index and, when the save answers a
-- webhook event, that event's reply to send: all in one atomic call, each user on their own
-- (one user's conflict does not stop another's save).
--
-- KEYS, per user i (4 each): the record, the user's history, the due index, the event answered
--   (the record's key again when none).
-- ARGV, per user: the version read, the new stored value, the user id, the next due time
--   ('' : none, the user leaves the due index), the event's new value ('' : no event;
--   storage/events.py), n, then n history triples (day number, outcome index, delta); and
--   last of all the seconds an event is remembered.
-- Guarantees: a record is written only if nobody wrote it since it was read (version
--   unchanged; a missing record counts as version 0); its history changes and its event's
--   reply are written exactly when it is.
-- Returns: per user, 1 (saved) or 0 (changed meanwhile: nothing written).
--! include record_version.lua
--! include tally.lua
local saved, a, remembered = {}, 0, ARGV[#ARGV]
for i = 1, #KEYS / 4 do
  local record_key, history_key, due_key, event_key =
    KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  local changes = tonumber(ARGV[a + 6])
  if record_version(redis.call('GET', record_key)) == tonumber(ARGV[a + 1]) then
    redis.call('SET', record_key, ARGV[a + 2])
    if ARGV[a + 4] == '' then redis.call('ZREM', due_key, ARGV[a + 3])
    else redis.call('ZADD', due_key, ARGV[a + 4], ARGV[a + 3]) end
    if ARGV[a + 5] ~= '' then redis.call('SET', event_key, ARGV[a + 5], 'EX', remembered) end
    apply_tallies(history_key, a + 7, a + 6 + 3 * changes)
    saved[i] = 1
  else
    saved[i] = 0
  end
  a = a + 6 + 3 * changes
end
return saved
