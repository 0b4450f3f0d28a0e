"""Every Redis key the bot uses, spelled in one place under one prefix. Scripts never build a
key: their callers pass in what these functions spell (docs/design.md, Key layout)."""
PREFIX = "usa"

USER_PATTERN = f"{PREFIX}:user:*"
MIGRATION_DONE = f"{PREFIX}:migrated:go"
# Every user's next due time (a sorted set scored by epoch seconds), and the mark that users
# stored before it existed have been indexed.
DUE = f"{PREFIX}:due"
DUE_INDEXED = f"{PREFIX}:due:indexed"

# Keys the Go bot (kawasin73/usa-reminder) wrote; read once by storage/go_import.py, never written.
GO_USER_PATTERN = "user_*"
GO_USER_PREFIX = "user_"


def user(user_id: str) -> str:
    return f"{PREFIX}:user:{user_id}"


def ask_claim(user_id: str, round_at: float, attempt: int) -> str:
    """Which batch holds ask `attempt` of the user's round that starts at `round_at` (epoch
    s): "b:<batch id>"."""
    return f"{PREFIX}:ask:{user_id}:{int(round_at)}:{attempt}"


def history(user_id: str) -> str:
    """The user's history (記録): how each day's rounds ended (storage/history.py)."""
    return f"{PREFIX}:log:{user_id}"


# One batched ask (storage/batches.py): its body (recipients, attempt, round), a sender's
# lease on it, and a mark once LINE took it.
BATCH_PREFIX = f"{PREFIX}:batch:"


def batch(batch_id: str) -> str:
    return BATCH_PREFIX + batch_id


def batch_lease(batch_id: str) -> str:
    return BATCH_PREFIX + batch_id + ":lease"


def batch_sent(batch_id: str) -> str:
    return BATCH_PREFIX + batch_id + ":sent"


# Webhook events taken in and not handled yet (storage/events.py): event ids by time taken in.
INBOX = f"{PREFIX}:inbox"


def webhook_event(event_id: str) -> str:
    return f"{PREFIX}:event:{event_id}"


# Family watch (storage/watches.py): a code -> who made it; who made which code; a person's
# watchers; whom a watcher watches, and when each of those watches began; a watcher's wrong
# codes this hour.
WATCH_PREFIX = f"{PREFIX}:watch:"


def watch_code(code: str) -> str:
    return f"{WATCH_PREFIX}code:{code}"


def watch_code_of(user_id: str) -> str:
    return f"{WATCH_PREFIX}code-of:{user_id}"


def watchers(user_id: str) -> str:
    return f"{WATCH_PREFIX}watchers:{user_id}"


def watching(user_id: str) -> str:
    return f"{WATCH_PREFIX}watching:{user_id}"


def watching_since(user_id: str) -> str:
    """A hash beside keys.watching: person watched -> when the watch began (epoch s). Links
    made before it existed have no field."""
    return f"{WATCH_PREFIX}since:{user_id}"


def watch_failures(user_id: str) -> str:
    return f"{WATCH_PREFIX}fails:{user_id}"


def alert_claim(user_id: str, alert_id: str, watcher: str) -> str:
    """Which process is telling `watcher` the user's alert `alert_id` (a lease)."""
    return f"{PREFIX}:alert:{user_id}:{alert_id}:{watcher}"


def pushes_in(month: str) -> str:
    """Pushes (asks and alerts) per user in a month ("YYYY-MM", the bot's zone)."""
    return f"{PREFIX}:pushes:{month}"


def alerts_in(month: str) -> str:
    """Watch alerts sent in a month."""
    return f"{PREFIX}:alerts:{month}"


def alive(token: str) -> str:
    """A running process's heartbeat (expires a few seconds after it stops)."""
    return f"{PREFIX}:alive:{token}"
