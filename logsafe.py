"""The bot's log lines, kept free of user data: ids are shortened, texts never logged."""
import json
import logging


def short_id(user_id: str) -> str:
    """Enough of a LINE user id to correlate log lines, not enough to identify anyone."""
    return (user_id or "?")[:7] + "…"


def fields(**values) -> str:
    """One grep-able log line: `key=value` pairs in the order given, e.g.
    `event=message kind=text user=U1234ab… outcome=told latency_ms=0.4`.

    None is left out, a float gets one decimal, `user` is always shortened (short_id), and a
    value with a space, a quote or `=` is quoted so that each pair stays one field. Pass
    kinds, outcomes, counts and statuses only: never a message text or a token."""
    pairs = []
    for key, value in values.items():
        if value is None:
            continue
        if key == "user":
            value = short_id(value)
        pairs.append(f"{key}={_value(value)}")
    return " ".join(pairs)


def _value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def configure(level: str, process_id: bool = False) -> None:
    """The bot's log lines on stderr. A record leaves out the thread and the calling function,
    which no line shows: under gevent each greenlet that logs would get a thread object of
    its own, and the two cost ~0.02 ms per line, on every webhook."""
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None   # no findCaller (the logging HOWTO's "Optimization")
    process = "[%(process)d]" if process_id else ""
    logging.basicConfig(level=level,
                        format=f"%(asctime)s %(levelname)s %(name)s{process}: %(message)s")
