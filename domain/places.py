"""Where on Earth is which time zone: a LINE location message sets the user's zone
(docs/design.md, The user's time zone).

timezonefinder answers offline, from its own polygon data. Loading it costs ~27 MB of RSS and
~0.2 s (numpy and the data), so it is loaded on the first location a user sends, not at
start-up; after that a lookup takes ~1 µs."""
from functools import lru_cache
from typing import Optional

from domain.wallclock import zone_name


@lru_cache(maxsize=1)
def _finder():
    from timezonefinder import TimezoneFinder
    return TimezoneFinder()


def zone_at(latitude: float, longitude: float) -> Optional[str]:
    """The IANA zone at that point (the nearest "Etc/GMT±N" at sea), or None."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    found = _finder().timezone_at(lat=latitude, lng=longitude)
    return zone_name(found) if found else None
