"""The clock for time towards LINE (deadlines, cache ages): CLOCK_MONOTONIC read directly,
so it stays real time under freezegun, which patches time.monotonic."""
import time


def real_seconds() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)
