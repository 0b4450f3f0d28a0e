"""The history (記録) in Redis: one small string per user (keys.history), a ring of day cells.

Cell i (32 bits, big-endian, as BITFIELD numbers them) belongs to the day whose number
(days since 2020-01-01, local date) is i modulo RING_DAYS:

    bits 0-15   the day number (a cell left from an older day is reset before use)
    bits 16-31  four 4-bit counts of that day's rounds: taken, late, missed, not asked

RING_DAYS x 4 bytes = 384 bytes per user once full, whatever the number of times."""
from datetime import date, timedelta
from typing import Dict, Sequence

from domain.history import KEEP_DAYS, DayTally, TallyChange, outcome_index

RING_DAYS = 96
assert RING_DAYS >= KEEP_DAYS
EPOCH = date(2020, 1, 1)
CELL_BITS = 32

# scripts/tally.lua writes cells in this layout (it has the same two constants: a test holds
# them equal), in the same script as the record's compare-and-set (scripts/save_records.lua):
# an outcome is counted exactly once.


def day_number(day: str) -> int:
    return (date.fromisoformat(day) - EPOCH).days


def changes_args(changes: Sequence[TallyChange]) -> list:
    """A script's arguments for `changes`: how many, then (day number, outcome index, delta)
    for each."""
    args = [len(changes)]
    for change in changes:
        args += [day_number(change.day), outcome_index(change.outcome), change.delta]
    return args


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
