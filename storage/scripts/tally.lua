-- Fragment: add to a user's history (記録) of how each day's rounds ended.
-- The history is one string per user, a ring of RING_DAYS cells of 32 bits (storage/history.py):
-- bits 0-15 the day number, bits 16-31 four 4-bit counts (taken, late, missed, not asked).
-- apply_tallies(key, first, last) applies the ARGV triples (day number, outcome index, delta)
-- from ARGV[first] to ARGV[last]. A cell left from an older day is reset before use; counts
-- saturate at 0 and 15.
local RING_DAYS, CELL_BITS = 96, 32

local function apply_tallies(key, first, last)
  if first <= last and redis.call('EXISTS', key) == 0 then
    -- The whole ring at once: a string grown cell by cell would keep spare room.
    redis.call('SET', key, string.rep('\0', RING_DAYS * CELL_BITS / 8))
  end
  for j = first, last, 3 do
    local day, field, delta = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
    local cell = (day % RING_DAYS) * CELL_BITS
    if redis.call('BITFIELD', key, 'GET', 'u16', cell)[1] ~= day then
      redis.call('BITFIELD', key, 'SET', 'u16', cell, day, 'SET', 'u16', cell + 16, 0)
    end
    redis.call('BITFIELD', key, 'OVERFLOW', 'SAT', 'INCRBY', 'u4', cell + 16 + 4 * field, delta)
  end
end
