"""Helpers that keep logs free of user data: ids are shortened, texts never logged."""


def short_id(user_id: str) -> str:
    """Enough of a LINE user id to correlate log lines, not enough to identify anyone."""
    return (user_id or "?")[:7] + "…"
