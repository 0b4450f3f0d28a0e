"""The record (記録) in Redis: one small string per user (keys.history), a ring of day cells.

Cell i (32 bits, big-endian, as BITFIELD numbers them) belongs to the day whose number
(days since 2020-01-01, local date) is i modulo RING_DAYS:

    bits 0-15   the day number (a cell left from an older day is reset before use)
    bits 16-31  four 4-bit counts of that day's rounds: taken, late, missed, not asked

RING_DAYS x 4 bytes = 384 bytes per user once full, whatever the number of times."""
from datetime import date, timedelta
from typing import Dict

from domain.history import KEEP_DAYS, DayTally

RING_DAYS = 96
assert RING_DAYS >= KEEP_DAYS
EPOCH = date(2020, 1, 1)
CELL_BITS = 32

# Applied in the same script as the record's compare-and-set (storage.store), so an outcome
# is counted exactly once: ARGV triples (day number, outcome index, delta) from `first` to
# `last`.
APPLY_CHANGES_LUA = f"""
local function apply_changes(key, first, last)
  if first <= last and redis.call('EXISTS', key) == 0 then
    -- The whole ring at once: a string grown cell by cell would keep spare room.
    redis.call('SET', key, string.rep('\0', {RING_DAYS * CELL_BITS // 8}))
  end
  for j = first, last, 3 do
    local day, field, delta = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
    local cell = (day % {RING_DAYS}) * {CELL_BITS}
    if redis.call('BITFIELD', key, 'GET', 'u16', cell)[1] ~= day then
      redis.call('BITFIELD', key, 'SET', 'u16', cell, day, 'SET', 'u16', cell + 16, 0)
    end
    redis.call('BITFIELD', key, 'OVERFLOW', 'SAT', 'INCRBY', 'u4', cell + 16 + 4 * field, delta)
  end
end
"""


def day_number(day: str) -> int:
    return (date.fromisoformat(day) - EPOCH).days


def decode(raw: bytes) -> Dict[date, DayTally]:
    tallies = {}
    for offset in range(0, len(raw) - 3, 4):
        number = int.from_bytes(raw[offset:offset + 2], "big")
        if number == 0:
            continue
        counts = raw[offset + 2], raw[offset + 3]
        tallies[EPOCH + timedelta(days=number)] = DayTally(
            counts[0] >> 4, counts[0] & 0xF, counts[1] >> 4, counts[1] & 0xF)
    return tallies
