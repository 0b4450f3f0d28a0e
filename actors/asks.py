"""Asks that fall due together go to LINE together: one multicast for up to 500 users asked
the same attempt ("飲んだ?", "飲んだ??", ...), a push for a user asked alone.

A batch is claimed in Redis before it is sent (`Store.claim_batch`): each user's record is
saved, their ask is tied to the batch, and the batch's recipients are stored. The batch id is
the X-Line-Retry-Key, so whoever later finds an ask whose batch was never confirmed (after a
restart, or a send that gave up) resends that very request, and LINE answers 409 if it took
it the first time. A user is never asked the same attempt under two different keys."""
import logging
import uuid
from typing import NamedTuple, Optional

import gevent
from gevent.event import AsyncResult

from chat import texts
from outbox.line import MULTICAST_MAX, PushResult
from storage.store import (
    BATCH_GONE, CLAIM_CONFLICT, CLAIM_PENDING, CLAIM_SENT, CLAIM_WON, BatchAnswer, Conflict,
)

log = logging.getLogger(__name__)

ASK_BUTTONS = ((texts.QUICK_TOOK, texts.POSTBACK_TOOK), (texts.QUICK_LATER, texts.POSTBACK_LATER))


class AskOutcome(NamedTuple):
    result: Optional[PushResult]  # None: another sender holds this ask; look again after `wait`
    wait: float = 0.0


SHOWN_BY_ANOTHER_SENDER = AskOutcome(PushResult.DUPLICATE)  # LINE took it once; that counts


class _Waiting(NamedTuple):
    record: object
    day: str
    outcome: AsyncResult


class AskBatcher:
    def __init__(self, store, outbox, lease_seconds: float, batch_size: int = MULTICAST_MAX,
                 senders: int = 8):
        self._store = store
        self._outbox = outbox
        self._lease = lease_seconds
        self._batch_size = batch_size
        self._max_senders = senders
        self._waiting = {}     # attempt -> [_Waiting], the attempt waiting longest first
        self._senders = 0
        self._resending = {}   # batch id -> AsyncResult of its resend by this process

    def ask(self, record, day: str, attempt: int) -> AskOutcome:
        """Save `record` and ask its user (attempt `attempt` of `day`) together with everyone
        else being asked that attempt now. Blocks this greenlet until LINE answered. Raises
        Conflict when the stored record changed since it was read."""
        waiting = _Waiting(record, day, AsyncResult())
        self._waiting.setdefault(attempt, []).append(waiting)
        if self._senders < self._max_senders:
            self._senders += 1
            gevent.spawn(self._send_waiting)  # starts after the greenlets already ready
        outcome = waiting.outcome.get()
        if isinstance(outcome, BatchAnswer):  # CLAIM_RESEND
            return self._resend(outcome.batch_id)
        return outcome

    @property
    def waiting(self) -> int:
        return sum(len(group) for group in self._waiting.values())

    # -- new batches -----------------------------------------------------------------------
    def _send_waiting(self):
        try:
            while self._waiting:
                attempt = next(iter(self._waiting))
                group = self._waiting[attempt]
                batch = group[:self._batch_size]
                del group[:self._batch_size]
                if not group:
                    del self._waiting[attempt]
                self._send_batch(attempt, batch)
        finally:
            self._senders -= 1

    def _send_batch(self, attempt, batch):
        batch_id = str(uuid.uuid4())
        try:
            answers = self._store.claim_batch(
                batch_id, attempt, [(waiting.record, waiting.day) for waiting in batch],
                self._lease)
            won = []
            for waiting, answer in zip(batch, answers):
                if answer.status == CLAIM_WON:
                    won.append(waiting)
                elif answer.status == CLAIM_CONFLICT:
                    waiting.outcome.set_exception(Conflict(waiting.record.user_id))
                elif answer.status == CLAIM_PENDING:
                    waiting.outcome.set(AskOutcome(None, answer.lease_left))
                elif answer.status == CLAIM_SENT:
                    waiting.outcome.set(SHOWN_BY_ANOTHER_SENDER)
                else:  # CLAIM_RESEND: the asking greenlet resends that earlier batch
                    waiting.outcome.set(answer)
            if not won:
                return
            result = self._send(batch_id, [waiting.record.user_id for waiting in won], attempt)
            for waiting in won:
                waiting.outcome.set(AskOutcome(result))
        except Exception as exc:  # Redis failed: each asking actor crashes and restarts
            for waiting in batch:
                if not waiting.outcome.ready():
                    waiting.outcome.set_exception(exc)
            return
        try:
            # After the answers, so that their record saves share this round trip.
            self._store.finish_batch(batch_id, shown=result.shown)
        except Exception as exc:  # harmless: whoever finds it unconfirmed resends it (409)
            log.warning("could not mark a batch of asks as sent: %s", type(exc).__name__)

    def _send(self, batch_id, user_ids, attempt) -> PushResult:
        message = [texts.ask(attempt)]
        if len(user_ids) == 1:
            result = self._outbox.push(user_ids[0], message, batch_id, ASK_BUTTONS)
        else:
            result = self._outbox.multicast(user_ids, message, batch_id, ASK_BUTTONS)
        if result in (PushResult.REFUSED, PushResult.QUOTA):
            log.warning("ask %d not shown to %d users: %s; it counts as asked", attempt,
                        len(user_ids), result.value)
        return result

    # -- batches found unconfirmed ---------------------------------------------------------
    def _resend(self, batch_id) -> AskOutcome:
        """Resend an earlier batch with its own recipients and retry key. The batch's other
        users asking in this process meanwhile wait for the same answer."""
        running = self._resending.get(batch_id)
        if running is not None:
            return running.get()
        running = self._resending[batch_id] = AsyncResult()
        try:
            outcome = self._take_and_resend(batch_id)
        except Exception as exc:
            running.set_exception(exc)
            raise
        else:
            running.set(outcome)
            return outcome
        finally:
            del self._resending[batch_id]

    def _take_and_resend(self, batch_id) -> AskOutcome:
        status, body = self._store.take_batch(batch_id, self._lease)
        if status == CLAIM_SENT:
            return SHOWN_BY_ANOTHER_SENDER
        if status == CLAIM_PENDING:
            return AskOutcome(None, body["lease_left"])
        if status == BATCH_GONE:  # expired with its claims: the next try claims afresh
            return AskOutcome(None, 0.0)
        log.info("resending an unconfirmed batch of %d (attempt %d) with its retry key",
                 len(body["to"]), body["attempt"])
        result = self._send(batch_id, body["to"], body["attempt"])
        self._store.finish_batch(batch_id, shown=result.shown)
        return AskOutcome(result)
