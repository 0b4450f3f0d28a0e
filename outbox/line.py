"""The LINE Messaging API, behind one small object. Pushes, multicasts and replies go over
outbox/http.py, and so do the account's reads (outbox/account.py).
Pushes and replies share one pace (LINE counts them together), multicasts have their own;
each kind is bounded in connections; every call has a timeout, and a reply a deadline from
its webhook (outbox/backlog.py); failures are logged by status and x-line-request-id, never
by content."""
import enum
import functools
import logging
import random
from typing import Optional, Sequence, Tuple, Union

import gevent
from gevent.lock import BoundedSemaphore

from chat.texts import TimePicker
from logsafe import fields, short_id
from outbox.account import AccountApi
from outbox.backlog import REPLY_BACKLOG_SECONDS, REPLY_DEADLINE_SECONDS, ReplyBacklog
from outbox.clock import real_seconds
from outbox.http import Answer, LineHttp, NotSent, dumps
from outbox.pacing import RateLimiter, SendWindow, SharedPace
from outbox.profiles import DisplayNames
from outbox.quota import MessageQuota

log = logging.getLogger(__name__)

PUSH_PATH = "/v2/bot/message/push"
MULTICAST_PATH = "/v2/bot/message/multicast"
MULTICAST_MAX = 500                          # recipients per multicast, LINE's limit
MULTICAST_RATE = 180.0                       # LINE allows 200 multicast requests/s per channel
MULTICASTS_WRITTEN_PER_SECOND = 180          # at most, in any one second (SendWindow)
REPLY_PATH = "/v2/bot/message/reply"
# Replies on the wire at once, on connections of their own beyond the push slots: the whole
# pace (1,800/s) at LINE answering in ~70 ms.
REPLY_CONNECTIONS = 128
# While pushes wait for the shared pace too, replies take 3 of every 4 slots: a reply is what
# a user is looking at now, and its token lapses; an ask a second late is still on time.
REPLY_TURNS = 3
# Pushes and replies written in any one second, at most (SendWindow), whatever the pace: LINE
# counts them together up to 2,000 a second per channel; the margin is the pace's, as
# requests written a little apart can reach LINE closer together.
WRITTEN_PER_SECOND = 1800
_SEND_KINDS = {PUSH_PATH: "push", MULTICAST_PATH: "multicast", REPLY_PATH: "reply"}

QUOTA_MESSAGE = "monthly limit"              # 429 "You have reached your monthly limit."
UNREACHABLE_MESSAGE = "Failed to send messages"  # 400 for a recipient who cannot receive


class PushResult(enum.Enum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"      # 409: LINE already accepted this retry key; the user saw it once
    REFUSED = "refused"          # other 4xx (bad request, auth, forbidden): retrying cannot help
    UNREACHABLE = "unreachable"  # 400 "Failed to send messages": this user cannot receive
                                 # pushes (blocked the bot, or the id is gone); don't retry
    QUOTA = "quota"              # 429 monthly limit: no pushes until the quota resets
    FAILED = "failed"            # 5xx, timeouts, connection errors, 429 rate limit: gave up
                                 # after `attempts` failures or `deadline` seconds

    @property
    def shown(self) -> bool:
        return self in (PushResult.DELIVERED, PushResult.DUPLICATE)


_TRANSIENT = "transient"        # 5xx, timeout, connection error: counts against `attempts`
_RATE_LIMITED = "rate limited"  # 429 rate limit: only the deadline bounds these


class LineOutbox:
    """`push` retries transient failures with the same X-Line-Retry-Key, up to `attempts`
    failures and never past `deadline` seconds (no attempt starts after it, and a retry's
    timeout is cut to the time left). The concurrency slot is held only while a request is
    on the wire, never while backing off, so one user's retries never hold up another's."""

    def __init__(self, base_url: str, access_token: str, *, timeout: float = 5.0,
                 rate: float = 1800.0, concurrency: int = 128, attempts: int = 4,
                 backoff: float = 0.5, max_backoff: float = 8.0, deadline: float = 15.0,
                 clock=real_seconds, sleep=gevent.sleep, transport=None, share: float = 1.0,
                 reply_deadline: float = REPLY_DEADLINE_SECONDS,
                 reply_backlog: float = REPLY_BACKLOG_SECONDS):
        """`share`: this process's part of the channel's rates, when several processes send
        for one channel (LINE's limits are per channel): each paces to its share.
        `reply_deadline`, `reply_backlog`: seconds, see outbox/backlog.py."""
        # Pushes and replies: one pool of kept-alive connections, as many as the push slots
        # plus the reply slots, so that a request holding a slot never waits for a
        # connection; retries are ours. `transport.post(path, payload, timeout, headers)`
        # answers an outbox.http.Answer or raises OSError (NotSent: LINE never got it).
        self.transport = transport or LineHttp(base_url, access_token,
                                               concurrency=concurrency + REPLY_CONNECTIONS,
                                               timeout=timeout)
        self._timeout = timeout
        self._slots = BoundedSemaphore(concurrency)
        self._reply_slots = BoundedSemaphore(REPLY_CONNECTIONS)
        # LINE counts pushes and replies together (2,000 requests/s per channel) and
        # multicasts on their own (200/s).
        self.limiter = RateLimiter(rate * share)
        self.pace = SharedPace(self.limiter, first_turns=REPLY_TURNS)
        self._push_lane, self._reply_lane = self.pace.second, self.pace.first
        self._written = SendWindow(WRITTEN_PER_SECOND * share)
        self._multicasts_written = SendWindow(MULTICASTS_WRITTEN_PER_SECOND * share)
        self.multicast_limiter = RateLimiter(min(rate, MULTICAST_RATE) * share,
                                             what="multicasts")
        self.backlog = ReplyBacklog(self._reply_throughput, seconds=reply_backlog,
                                    deadline=reply_deadline, clock=clock)
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        # The account's side of the API: users' display names (`names.display_name(user_id)`)
        # and the month's message usage (`quota.current()`). Its own pool: profile lookups
        # at once, and the two quota requests.
        self._account_http = LineHttp(base_url, access_token,
                                      concurrency=DisplayNames.MAX_ASKING + 2, timeout=timeout)
        api = AccountApi(self._account_http)
        self.names = DisplayNames(api, timeout=timeout)
        self.quota = MessageQuota(api, timeout=timeout)
        self.quota_exhausted = False  # LINE said "monthly limit"; cleared by the next success
        self.auth_refused = False     # LINE said 401/403; cleared by the next success
        self.in_flight = 0

    # -- pushes ----------------------------------------------------------------------------
    def push(self, user_id: str, texts: Sequence[str], retry_key: str,
             quick_reply: Sequence[Tuple[str, str]] = ()) -> PushResult:
        """Send `texts` to one user, retrying transient failures with the same retry key."""
        body = {"to": user_id, "messages": _messages(tuple(texts), tuple(quick_reply)),
                "notificationDisabled": False}
        return self._send(PUSH_PATH, (self._push_lane, self._written), body, retry_key,
                          short_id(user_id))

    def multicast(self, user_ids: Sequence[str], texts: Sequence[str], retry_key: str,
                  quick_reply: Sequence[Tuple[str, str]] = ()) -> PushResult:
        """Send the same `texts` to up to 500 users in one request (one rate-limit slot).
        LINE skips recipients who blocked the bot, so UNREACHABLE never comes back from here."""
        body = {"to": list(user_ids), "messages": _messages(tuple(texts), tuple(quick_reply)),
                "notificationDisabled": False}
        result = self._send(MULTICAST_PATH, (self.multicast_limiter, self._multicasts_written),
                            body, retry_key, f"{len(user_ids)} users")
        return PushResult.REFUSED if result is PushResult.UNREACHABLE else result

    def _send(self, path, pacing, body, retry_key, recipients) -> PushResult:
        """`pacing`: (the limiter or lane that paces this kind, its SendWindow)."""
        give_up_at = self._clock() + self._deadline
        failures = rate_limited = 0
        timeout = self._timeout
        payload = dumps(body)  # once, whatever the tries
        while True:
            result, retry = self._send_once(path, pacing, body, payload, retry_key, timeout,
                                            failures + rate_limited + 1)
            if result is not None:
                return result
            if retry is _RATE_LIMITED:
                rate_limited += 1
                delay = max(self._backoff, self._delay(rate_limited - 1))
            else:
                failures += 1
                if failures >= self._attempts:
                    log.warning("push to %s failed after %d attempts", recipients, failures)
                    return PushResult.FAILED
                delay = self._delay(failures - 1)
            left = give_up_at - self._clock() - delay
            if left <= 0:
                log.warning("push to %s given up after %.1f s (%d failures, %d rate limited)",
                            recipients, self._deadline, failures, rate_limited)
                return PushResult.FAILED
            self._sleep(delay)
            timeout = min(self._timeout, left)

    def _send_once(self, path, pacing, body, payload, retry_key, timeout, attempt):
        """(result, None) when final; (None, _TRANSIENT or _RATE_LIMITED) to try again.
        `payload`: `body` as written (`body` itself: for the log line)."""
        limiter, window = pacing
        limiter.take()
        with self._slots:
            window.wait_turn()
            self.in_flight += 1
            started = self._clock()
            try:
                answer = self._post(path, payload, timeout, retry_key)
            except OSError as exc:
                self._log_send(path, body, started, attempt, error=_error_name(exc))
                return None, _TRANSIENT
            finally:
                self.in_flight -= 1
        self._log_send(path, body, started, attempt, status=answer.status,
                       request=answer.request_id)
        if answer.status >= 300:
            return self._classify(limiter, answer)
        self._accepted()
        return PushResult.DELIVERED, None

    def _classify(self, limiter, answer: Answer):
        status = answer.status
        if status == 409:
            self._accepted()
            return PushResult.DUPLICATE, None
        if status == 429:
            if QUOTA_MESSAGE in answer.message():
                if not self.quota_exhausted:
                    log.error("LINE monthly message quota is used up: pushes fail and re-asks "
                              "stop until it resets (request %s)", answer.request_id)
                self.quota_exhausted = True
                return PushResult.QUOTA, None
            # One warning per slow-down comes from the limiter; not one per 429 in a storm.
            limiter.slow_down()
            return None, _RATE_LIMITED
        if status >= 500:
            return None, _TRANSIENT
        if status == 400 and UNREACHABLE_MESSAGE in answer.message():
            return PushResult.UNREACHABLE, None
        if status in (401, 403):
            if not self.auth_refused:
                log.error("LINE refused the channel access token or plan (status %s, request "
                          "%s): no push goes out until it is fixed", status, answer.request_id)
            self.auth_refused = True
        return PushResult.REFUSED, None

    def _accepted(self):
        """LINE took a push: whatever stopped pushes before is over."""
        self.auth_refused = False
        if self.quota_exhausted:
            log.warning("LINE accepted a push again: message quota available")
            self.quota_exhausted = False

    def _delay(self, attempt: int) -> float:
        # Exponential backoff with full jitter.
        return random.uniform(0, min(self._max_backoff, self._backoff * 2 ** attempt))

    # -- replies ---------------------------------------------------------------------------
    def reply(self, reply_token: Optional[str], messages: Sequence[Union[str, dict]],
              quick_reply: Sequence = ()) -> bool:
        """Answer a webhook event with texts, or LINE message objects (a Flex message);
        texts may have `quick_reply` items (as `push` takes them) under the last one. Free of
        quota. Paced with the pushes; tried again while its deadline allows when LINE
        certainly did not act on it. Settles the backlog's promise for the token."""
        if not reply_token:
            return False
        try:
            return self._reply(reply_token, messages, quick_reply)
        finally:
            self.backlog.settle(reply_token)

    def _reply(self, reply_token, messages, quick_reply) -> bool:
        deadline = self.backlog.deadline(reply_token)
        body = {"replyToken": reply_token,
                "messages": _reply_messages(tuple(messages), tuple(quick_reply)),
                "notificationDisabled": False}
        payload, asked, attempt = dumps(body), self._clock(), 1
        while True:
            # Waiting for a turn of the pace or for a connection is bounded by the deadline
            # only; the wire timeout starts once the request has a connection.
            if not (self._left(deadline) > 0
                    and self._reply_lane.take(timeout=self._left(deadline))
                    and self._reply_slots.acquire(timeout=self._left(deadline))):
                self._log_send(REPLY_PATH, body, asked, _retry(attempt), error="deadline")
                return False
            try:
                done = self._reply_once(body, payload, deadline, attempt)
            finally:
                self._reply_slots.release()
            if done is not None:
                return done
            delay = self._delay(attempt - 1)
            attempt += 1
            if self._left(deadline) <= delay:
                self._log_send(REPLY_PATH, body, asked, _retry(attempt), error="deadline")
                return False
            self._sleep(delay)

    def _reply_once(self, body, payload, deadline, attempt) -> Optional[bool]:
        """True or False when the reply is settled; None to try again.

        A reply token is good once, so a reply tried again is never shown twice: what
        matters is whether another try can help. It can when LINE certainly did not act on
        the request: it never got it whole (NotSent: no connection, a broken write) or said
        so (5xx, 429). A request written whole that got no answer may have been shown; its
        token is then spent, and another try would only earn 400 "Invalid reply token",
        logged as the failure of a reply the user saw, for a slot of the pace that other
        replies are waiting for."""
        self._written.wait_turn()
        started = self._clock()
        self.in_flight += 1
        try:
            answer = self.transport.post(REPLY_PATH, payload,
                                         min(self._timeout, self._left(deadline)))
        except OSError as exc:
            self._log_send(REPLY_PATH, body, started, _retry(attempt), error=_error_name(exc))
            return None if isinstance(exc, NotSent) else False
        finally:
            self.in_flight -= 1
        self._log_send(REPLY_PATH, body, started, _retry(attempt), status=answer.status,
                       request=answer.request_id)
        if answer.status == 429:
            self._reply_lane.slow_down()
            return None
        if answer.status >= 500:
            return None
        return answer.status < 300

    def _left(self, deadline) -> float:
        return max(0.0, deadline - self._clock())

    def _reply_throughput(self) -> float:
        """Replies a second this process can send now: their share of the pace while pushes
        wait too (after any slow-down for a 429)."""
        return self.limiter.rate * self.pace.first_share

    def _log_send(self, path, body, started, attempt=None, status=None, error=None,
                  request=None):
        """One line per request LINE answered (or that failed on the way, or a reply given
        up at its deadline): kind, recipients, status, latency; for a refusal or a 429, LINE's
        request id. Never the texts, the token or a full user id. A request that failed or
        that LINE refused is a WARNING (not a push's 409, the same push taken before, nor a
        429, which the pacing answers and the request tries again); a reply LINE took is a
        DEBUG line: the webhook event's own line says what was answered."""
        refused = status is not None and status >= 300 and status not in (409, 429)
        if error is not None or refused:
            level = logging.WARNING
        elif path == REPLY_PATH and status < 300:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if status is None or status < 300 or status == 409:  # 409: taken before
            request = None
        if not log.isEnabledFor(level):
            return
        to = body.get("to")
        log.log(level, "%s", fields(
            send=_SEND_KINDS.get(path, path), recipients=len(to) if isinstance(to, list) else 1,
            user=to if isinstance(to, str) else None, status=status, error=error,
            latency_ms=(self._clock() - started) * 1000, attempt=attempt, request=request))

    def close(self) -> None:
        """Close the kept-alive connections to LINE."""
        self.transport.close()
        self._account_http.close()

    def reply_soon(self, reply_token: Optional[str], messages: Sequence[Union[str, dict]]):
        """Reply from a greenlet of its own, for callers that must not wait (the web edge)."""
        gevent.spawn(self.reply, reply_token, messages)

    def _post(self, path, payload, timeout, retry_key) -> Answer:
        headers = (("X-Line-Retry-Key", retry_key),) if retry_key else ()
        return self.transport.post(path, payload, timeout, headers)


def _error_name(exc: OSError) -> str:
    """What went wrong on the way, as logged: a NotSent by its cause (a refused connection)."""
    cause = exc.__cause__ if isinstance(exc, NotSent) else None
    return type(cause or exc).__name__


def _retry(attempt: int) -> Optional[int]:
    """A reply's try as logged: only a second one and after (nearly every reply takes one)."""
    return attempt if attempt > 1 else None


def reply_messages(messages, quick_reply=()) -> list:
    """The JSON message objects a reply of `messages` (and `quick_reply`) sends: what a reply
    owed is kept as (storage/events.py), and sent as it is."""
    return _reply_messages(tuple(messages), tuple(quick_reply))


def _reply_messages(messages, quick_reply=()) -> list:
    texts = tuple(message for message in messages if isinstance(message, str))
    if len(texts) == len(messages):
        return list(_messages(texts, quick_reply))
    if quick_reply:
        raise ValueError("quick replies go under a reply of texts")
    # Texts, and message objects as built (chat/history_card.py: its tests hold it to
    # line-bot-sdk's Flex models).
    return [_messages((message,), ())[0] if isinstance(message, str) else message
            for message in messages]


@functools.lru_cache(maxsize=4096)
def _messages(texts, quick_reply):
    """The JSON of a message list, once per distinct content (every user is asked the same
    "飲んだ?"): what the SDK's TextMessage, QuickReply, PostbackAction and
    DatetimePickerAction models give, key for key and in their order
    (tests/test_outbox_wire.py holds them side by side). `quick_reply` items are (label,
    postback data) buttons, or chat.texts.TimePicker."""
    messages = [{"type": "text", "text": text} for text in texts]
    if quick_reply:
        items = [{"action": _action(item), "type": "action"} for item in quick_reply]
        messages[-1] = {"type": "text", "quickReply": {"items": items}, "text": texts[-1]}
    return tuple(messages)


def _action(item) -> dict:
    if isinstance(item, TimePicker):
        return {"type": "datetimepicker", "label": item.label, "data": item.data, "mode": "time"}
    label, data = item
    return {"type": "postback", "label": label, "data": data, "displayText": label}
