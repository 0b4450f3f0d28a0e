"""Where the bot's time went, by component (SDK, pydantic, JSON, Redis, gevent, ...), from a
profile written by bench.runner: `python -m bench.profiled .bench/NAME.prof`."""
import os
import pstats
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (component, substrings of "file:function") in match order; the first hit wins.
COMPONENTS = (
    ("socket syscalls", ("'send' of '_socket", "'recv' of '_socket", "'recv_into' of '_socket",
                         "'sendall' of '_socket", "method 'poll'", "'connect' of '_socket",
                         "'accept' of '_socket")),
    ("pydantic", ("/pydantic/", "pydantic_core")),
    ("line-bot-sdk", ("/linebot/",)),
    ("urllib3", ("/urllib3/",)),
    ("redis-py", ("/redis/",)),
    ("hiredis", ("hiredis",)),
    ("json", ("/json/", "_json")),
    ("http.client/email", ("/http/client.py", "/email/")),
    ("gevent", ("/gevent/", "greenlet")),
    ("bottle", ("/bottle.py",)),
    ("logging", ("/logging/",)),
    ("uuid/hmac/hashlib", ("/uuid.py", "/hmac.py", "hashlib", "_hashlib")),
    ("zoneinfo/datetime", ("zoneinfo", "datetime")),
    ("bot code", (ROOT + "/actors/", ROOT + "/storage/", ROOT + "/outbox/", ROOT + "/web.py",
                  ROOT + "/inbound.py", ROOT + "/chat/")),
)


def component(key) -> str:
    """The component a pstats key (file, line, function) belongs to."""
    text = f"{key[0]}:{key[2]}"
    for name, needles in COMPONENTS:
        if any(needle in text for needle in needles):
            return name
    return "other (stdlib, builtins)"


def summarize(stats: pstats.Stats, top: int = 12):
    """[(component, seconds of own time)] sorted by time, and the total."""
    totals = {}
    for key, (_, _, tottime, _, _) in stats.stats.items():
        name = component(key)
        totals[name] = totals.get(name, 0.0) + tottime
    total = sum(totals.values())
    return sorted(totals.items(), key=lambda item: -item[1])[:top], total


def print_summary(path, per=None, unit="request"):
    stats = pstats.Stats(path)
    rows, total = summarize(stats)
    print(f"  # profile {os.path.relpath(path, ROOT)}: {total:.2f} s own time"
          + (f" over {per} {unit}s" if per else ""))
    for name, seconds in rows:
        share = f"{100 * seconds / total:4.1f}%" if total else "-"
        each = f", {1e6 * seconds / per:.0f} us/{unit}" if per else ""
        print(f"  #   {name:<26} {seconds:7.2f} s {share}{each}")


def main(argv=None):
    for path in (sys.argv[1:] if argv is None else argv):
        print_summary(path)


if __name__ == "__main__":
    main()
