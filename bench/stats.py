"""Small, exact helpers for the figures the benchmarks print."""
import bisect
import collections
import math
from typing import Iterable, Sequence


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def peak_rate(times: Iterable[float], window: float = 1.0) -> int:
    """The most events inside any half-open window [t, t + window) of the given length."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        end = bisect.bisect_left(ordered, start + window, lo=i)
        best = max(best, end - i)
    return best


def duplicates(keys: Iterable) -> int:
    """How many items repeat an earlier one (0 when every key is unique)."""
    counts = collections.Counter(keys)
    return sum(count - 1 for count in counts.values() if count > 1)


def lateness(due: dict, sent: Sequence) -> list:
    """`sent` is (user, at) pairs; the lateness `at - due[user]` of each user's first send."""
    first = {}
    for user, at in sent:
        if user in due and (user not in first or at < first[user]):
            first[user] = at
    return [first[user] - due[user] for user in first]


def fmt_ms(seconds: float) -> str:
    return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.0f} ms"
