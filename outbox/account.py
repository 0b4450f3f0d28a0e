"""The account's side of the Messaging API that the bot reads: a user's display name
(GET /v2/bot/profile/{userId}) and the month's message quota (GET /v2/bot/message/quota and
/v2/bot/message/quota/consumption), as plain GETs on a small pool of their own (outbox/http.py),
so that neither needs line-bot-sdk loaded.

A call returns what LINE said; it raises LineApiError for an answer other than 200,
ValueError for a body that is not what LINE documents, and OSError (TimeoutError,
ConnectionError) when the exchange itself failed."""
from typing import Optional
from urllib.parse import quote

import orjson

from outbox.http import LineHttp


class LineApiError(Exception):
    def __init__(self, status: int, message: str = ""):
        super().__init__(f"status {status}: {message}" if message else f"status {status}")
        self.status = status


class AccountApi:
    def __init__(self, http: LineHttp):
        self._http = http

    def display_name(self, user_id: str, timeout: float) -> Optional[str]:
        return self._get(f"/v2/bot/profile/{quote(user_id, safe='')}", timeout).get(
            "displayName")

    def quota_limit(self, timeout: float) -> Optional[int]:
        """The monthly limit; None when the plan has none."""
        quota = self._get("/v2/bot/message/quota", timeout)
        return quota.get("value") if quota.get("type") == "limited" else None

    def quota_used(self, timeout: float) -> int:
        """Messages counted this month (pushes: one per recipient)."""
        used = self._get("/v2/bot/message/quota/consumption", timeout).get("totalUsage")
        if not isinstance(used, int):
            raise ValueError("no totalUsage in LINE's answer")
        return used

    def _get(self, path: str, timeout: float) -> dict:
        answer = self._http.get(path, timeout)
        if answer.status != 200:
            raise LineApiError(answer.status, answer.message())
        body = orjson.loads(answer.body)  # JSONDecodeError is a ValueError
        if not isinstance(body, dict):
            raise ValueError("LINE's answer is not a JSON object")
        return body
