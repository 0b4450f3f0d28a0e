"""Asks that fall due together go to LINE together: one multicast for up to 500 users asked
the same ask of rounds that started at the same moment ("飲んだ?", "飲んだ??", ... with that
round's buttons), a push for a user asked alone.

A batch is claimed in Redis before it is sent (`Store.claim_batch`): each user's ask is tied
to the batch, provided their record is still the version the decision was made on, and the
batch's recipients are stored. The claim of a round's first ask also saves the record with
the round started, so an answer that comes while LINE is still taking the ask (the user sees
it before the bot hears back) finds the round open, in whichever process it arrives.
The batch id is the X-Line-Retry-Key, so whoever later finds an ask whose batch was never
confirmed (after a restart, or a send that gave up) resends that very request, and LINE
answers 409 if it took it the first time. A user is never asked the same ask under two
different keys. Whoever asked (the user's actor, or a group of users asked together:
actors/together.py) saves the user's progress once it has the outcome, with a
compare-and-set on the version the claim left; an answer saved meanwhile makes that save a
Conflict, and the asker decides again on what the answer wrote."""
import enum
import logging
import uuid
from typing import NamedTuple, Optional, Sequence, Tuple

import gevent
from gevent.event import AsyncResult

from chat import texts
from domain.rounds import Delivered, NotDelivered, Round
from domain.user import UserRecord
from outbox.line import MULTICAST_MAX, PushResult
from storage.store import Ask, ClaimStatus, Conflict, TakeStatus

log = logging.getLogger(__name__)

# Under asks sent before rounds had ids (a batch claimed by that version, resent now).
UNNAMED_ROUND_BUTTONS = ((texts.QUICK_TOOK, texts.POSTBACK_TOOK),
                         (texts.QUICK_LATER, texts.POSTBACK_LATER))


class AskResult(enum.Enum):
    SHOWN = "shown"                  # LINE showed it, now or before (409, another sender)
    REFUSED = "refused"              # LINE refused it for good (4xx, quota): spent anyway
    NOT_DELIVERED = "not delivered"  # 5xx, timeouts: the user has not seen it
    UNREACHABLE = "unreachable"      # this user cannot receive pushes (blocked the bot)
    HELD = "held"                    # another sender holds this ask: look again after `wait`


class AskOutcome(NamedTuple):
    result: AskResult
    wait: float = 0.0


SHOWN = AskOutcome(AskResult.SHOWN)

# What each outcome of an ask means for its round (UNREACHABLE pauses the whole user, HELD
# looks again later).
ROUND_EVENT = {
    AskResult.SHOWN: Delivered(),
    AskResult.REFUSED: Delivered(),   # spent: logged once per batch
    AskResult.NOT_DELIVERED: NotDelivered(),
}

_BY_PUSH_RESULT = {
    PushResult.DELIVERED: SHOWN,
    PushResult.DUPLICATE: SHOWN,
    PushResult.REFUSED: AskOutcome(AskResult.REFUSED),
    PushResult.QUOTA: AskOutcome(AskResult.REFUSED),
    PushResult.FAILED: AskOutcome(AskResult.NOT_DELIVERED),
    PushResult.UNREACHABLE: AskOutcome(AskResult.UNREACHABLE),
}


class _Waiting(NamedTuple):
    ask: Ask
    outcome: AsyncResult  # an AskOutcome, or the exception that stopped the ask


class AskBatcher:
    def __init__(self, store, outbox, lease_seconds: float, batch_size: int = MULTICAST_MAX,
                 senders: int = 32, on_delivered=None):
        self._store = store
        self._on_delivered = on_delivered  # on_delivered(user ids): LINE took a new ask
        self._outbox = outbox
        self._lease = lease_seconds
        self._batch_size = batch_size
        self._max_senders = senders
        self._waiting = {}     # (attempt, round start) -> [_Waiting], waiting longest first
        self._senders = 0
        self._resending = {}   # batch id -> AsyncResult of its resend by this process

    def ask(self, record, round, attempt: int) -> AskOutcome:
        """Ask `record`'s user ask `attempt` of `round`, together with everyone else asked
        that ask of a round starting at the same moment. Blocks this greenlet until LINE has
        answered. Raises Conflict when the stored record changed since it was read."""
        [outcome] = self.ask_together([(record, round)], attempt)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def ask_together(self, asks: Sequence[Tuple[UserRecord, Round]], attempt: int) -> list:
        """`ask` for many users at once (rounds that all start at the same moment). Returns
        per record its AskOutcome, or the exception that stopped its ask (Conflict: the
        stored record changed since it was read)."""
        waitings = [_waiting_for(record, round) for record, round in asks]
        self._queue(attempt, asks[0][1].at, waitings)
        outcomes = []
        for waiting in waitings:  # a resend of an earlier batch may still be under way
            try:
                outcomes.append(waiting.outcome.get())
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _queue(self, attempt, round_at, waitings):
        """Asks wait with the others of their key; up to `senders` greenlets send them, each
        taking up to 500 of one key at a time, so that asks falling due one by one while the
        senders are busy go out together (LINE allows 200 multicasts a second)."""
        self._waiting.setdefault((attempt, round_at), []).extend(waitings)
        wanted = -(-len(waitings) // self._batch_size)
        while wanted and self._senders < self._max_senders:
            wanted -= 1
            self._senders += 1
            gevent.spawn(self._send_waiting)  # starts after the greenlets already ready

    @property
    def waiting(self) -> int:
        return sum(len(group) for group in self._waiting.values())

    # -- new batches -----------------------------------------------------------------------
    def _send_waiting(self):
        try:
            while self._waiting:
                key = next(iter(self._waiting))
                group = self._waiting[key]
                batch = group[:self._batch_size]
                del group[:self._batch_size]
                if not group:
                    del self._waiting[key]
                try:
                    self._send_batch(*key, batch)
                except BaseException as exc:  # nobody waits forever for a lost batch
                    _fail(batch, exc)
                    raise
        finally:
            self._senders -= 1

    def _send_batch(self, attempt, round_at, batch):
        batch_id = str(uuid.uuid4())
        try:
            claims = self._store.claim_batch(batch_id, attempt, round_at,
                                             [waiting.ask for waiting in batch], self._lease)
        except Exception as exc:  # Redis failed: each asking actor hears it
            _fail(batch, exc)
            return
        won, resends = [], {}
        for waiting, claim in zip(batch, claims):
            if claim.status is ClaimStatus.WON:
                won.append(waiting)
            elif claim.status is ClaimStatus.CONFLICT:
                waiting.outcome.set_exception(Conflict(waiting.ask.record.user_id))
            elif claim.status is ClaimStatus.HELD:
                waiting.outcome.set(AskOutcome(AskResult.HELD, claim.lease_left))
            elif claim.status is ClaimStatus.SENT:
                waiting.outcome.set(SHOWN)
            else:  # RESEND: an earlier batch holds the ask, never confirmed
                resends.setdefault(claim.batch_id, []).append(waiting)
        for earlier, waitings in resends.items():
            gevent.spawn(self._resend_for, earlier, waitings)
        if not won:
            return
        try:
            result = self._send(batch_id, [w.ask.record.user_id for w in won], attempt,
                                round_at)
        except Exception as exc:
            _fail(won, exc)
            return
        for waiting in won:
            waiting.outcome.set(_BY_PUSH_RESULT[result])
        if result is PushResult.DELIVERED and self._on_delivered is not None:
            gevent.spawn(self._on_delivered, [w.ask.record.user_id for w in won])
        try:
            # After the answers, so that the actors' saves share this round trip.
            self._store.finish_batch(batch_id, shown=result.shown)
        except Exception as exc:  # harmless: whoever finds it unconfirmed resends it (409)
            log.warning("could not mark a batch of asks as sent: %s", type(exc).__name__)

    def _send(self, batch_id, user_ids, attempt, round_at: Optional[float]) -> PushResult:
        message = [texts.ask(attempt)]
        buttons = UNNAMED_ROUND_BUTTONS if round_at is None else texts.ask_buttons(round_at)
        if len(user_ids) == 1:
            result = self._outbox.push(user_ids[0], message, batch_id, buttons)
        else:
            result = self._outbox.multicast(user_ids, message, batch_id, buttons)
        if result in (PushResult.REFUSED, PushResult.QUOTA):
            log.warning("ask %d not shown to %d users: %s; it counts as asked", attempt,
                        len(user_ids), result.value)
        return result

    # -- batches found unconfirmed ---------------------------------------------------------
    def _resend_for(self, batch_id, waitings):
        try:
            outcome = self._resend(batch_id)
        except Exception as exc:
            _fail(waitings, exc)
        else:
            for waiting in waitings:
                waiting.outcome.set(outcome)

    def _resend(self, batch_id) -> AskOutcome:
        """Resend an earlier batch with its own recipients and retry key. Its other users
        asking in this process meanwhile wait for the same answer."""
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
        taken = self._store.take_batch(batch_id, self._lease)
        if taken.status is TakeStatus.SENT:
            return SHOWN
        if taken.status is TakeStatus.HELD:
            return AskOutcome(AskResult.HELD, taken.lease_left)
        if taken.status is TakeStatus.GONE:  # expired with its claims: claim afresh
            return AskOutcome(AskResult.HELD, 0.0)
        body = taken.body
        log.info("resending an unconfirmed batch of %d (attempt %d) with its retry key",
                 len(body["to"]), body["attempt"])
        result = self._send(batch_id, body["to"], body["attempt"], body.get("round"))
        self._store.finish_batch(batch_id, shown=result.shown)
        return _BY_PUSH_RESULT[result]


def _waiting_for(record, round) -> _Waiting:
    # A user with one time: the day's claim of the one-time version applies too.
    day = round.day if len(record.rounds) == 1 else None
    return _Waiting(Ask(record, day), AsyncResult())


def _fail(batch, exc):
    for waiting in batch:
        if not waiting.outcome.ready():
            waiting.outcome.set_exception(exc)
