"""The LINE Messaging API, behind one small object. The only module that imports
`linebot.v3.messaging`. Pushes are paced under a rate and bounded in concurrency; every call
has a timeout; failures are logged by status and x-line-request-id, never by content."""
import enum
import logging
import random
from typing import Optional, Sequence, Tuple

import gevent
from gevent.lock import BoundedSemaphore
from linebot.v3.messaging import (
    ApiClient, ApiException, Configuration, MessagingApi, PostbackAction, PushMessageRequest,
    QuickReply, QuickReplyItem, ReplyMessageRequest, TextMessage,
)
from urllib3.exceptions import HTTPError

from logsafe import short_id
from outbox.pacing import RateLimiter

log = logging.getLogger(__name__)

QUOTA_MESSAGE = "monthly limit"


class PushResult(enum.Enum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"   # 409: LINE already accepted this retry key; the user saw it once
    REFUSED = "refused"       # 4xx: retrying cannot help (bad request, blocked, auth)
    QUOTA = "quota"           # 429 monthly limit: no pushes until the quota resets
    FAILED = "failed"         # 5xx, timeouts, connection errors, after the last retry

    @property
    def shown(self) -> bool:
        return self in (PushResult.DELIVERED, PushResult.DUPLICATE)


def _request_id(exc: ApiException) -> str:
    headers = exc.headers or {}
    return headers.get("x-line-request-id", "-")


class LineOutbox:
    def __init__(self, base_url: str, access_token: str, *, timeout: float = 5.0,
                 rate: float = 1800.0, concurrency: int = 128, attempts: int = 4,
                 backoff: float = 0.5, max_backoff: float = 8.0):
        configuration = Configuration(host=base_url, access_token=access_token)
        configuration.connection_pool_maxsize = concurrency  # >= send concurrency, see FIELD_NOTES
        configuration.retries = False                         # retries are ours, with the same key
        self._api = MessagingApi(ApiClient(configuration))
        self._timeout = timeout
        self._slots = BoundedSemaphore(concurrency)
        self.limiter = RateLimiter(rate)
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self.quota_exhausted = False
        self.in_flight = 0

    # -- pushes ----------------------------------------------------------------------------
    def push(self, user_id: str, texts: Sequence[str], retry_key: str,
             quick_reply: Sequence[Tuple[str, str]] = ()) -> PushResult:
        """Send `texts` to one user, retrying transient failures with the same retry key."""
        request = PushMessageRequest(to=user_id, messages=self._messages(texts, quick_reply))
        for attempt in range(self._attempts):
            result, retry_after = self._push_once(user_id, request, retry_key)
            if result is not None:
                return result
            if attempt + 1 < self._attempts:
                gevent.sleep(retry_after if retry_after is not None else self._delay(attempt))
        log.warning("push to %s failed after %d attempts", short_id(user_id), self._attempts)
        return PushResult.FAILED

    def _push_once(self, user_id, request, retry_key):
        """(result, None) when final; (None, delay or None) to try again."""
        self.limiter.take()
        with self._slots:
            self.in_flight += 1
            try:
                self._api.push_message(request, x_line_retry_key=retry_key,
                                       _request_timeout=self._timeout)
            except ApiException as exc:
                return self._classify(user_id, exc)
            except (HTTPError, OSError) as exc:
                log.warning("push to %s: %s", short_id(user_id), type(exc).__name__)
                return None, None
            finally:
                self.in_flight -= 1
        self._quota_back()
        return PushResult.DELIVERED, None

    def _classify(self, user_id, exc: ApiException):
        status = exc.status or 0
        if status == 409:
            self._quota_back()
            return PushResult.DUPLICATE, None
        if status == 429:
            if QUOTA_MESSAGE in str(exc.body or ""):
                if not self.quota_exhausted:
                    log.error("LINE monthly message quota is used up: re-asks stop until it resets")
                self.quota_exhausted = True
                return PushResult.QUOTA, None
            log.warning("push rate limited by LINE (request %s)", _request_id(exc))
            return None, self._max_backoff / 4 * (1 + random.random())
        log.warning("push to %s: status %s (request %s)", short_id(user_id), status,
                    _request_id(exc))
        if status >= 500:
            return None, None
        return PushResult.REFUSED, None

    def _quota_back(self):
        if self.quota_exhausted:
            log.warning("LINE accepted a push again: message quota available")
            self.quota_exhausted = False

    def _delay(self, attempt: int) -> float:
        # Exponential backoff with full jitter.
        return random.uniform(0, min(self._max_backoff, self._backoff * 2 ** attempt))

    # -- replies ---------------------------------------------------------------------------
    def reply(self, reply_token: Optional[str], texts: Sequence[str]) -> bool:
        """Answer a webhook event. Free of quota; a reply token is good for one use."""
        if not reply_token:
            return False
        request = ReplyMessageRequest(reply_token=reply_token, messages=self._messages(texts, ()))
        try:
            self._api.reply_message(request, _request_timeout=self._timeout)
        except ApiException as exc:
            log.warning("reply failed: status %s (request %s)", exc.status, _request_id(exc))
            return False
        except (HTTPError, OSError) as exc:
            log.warning("reply failed: %s", type(exc).__name__)
            return False
        return True

    def reply_soon(self, reply_token: Optional[str], texts: Sequence[str]) -> None:
        """Reply from a greenlet of its own, for callers that must not wait (the web edge)."""
        gevent.spawn(self.reply, reply_token, texts)

    @staticmethod
    def _messages(texts, quick_reply):
        messages = [TextMessage(text=text) for text in texts]
        if quick_reply:
            messages[-1].quick_reply = QuickReply(items=[
                QuickReplyItem(action=PostbackAction(label=label, data=data, display_text=label))
                for label, data in quick_reply
            ])
        return messages
