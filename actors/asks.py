"""Asks that fall due together go to LINE together: one multicast for up to 500 users asked
the same ask of rounds that started at the same moment ("飲んだ?", "飲んだ??", ... or, for a
named dose, "血圧の薬、飲んだ?", with that round's buttons), a push for a user asked alone.

A batch is claimed in Redis before it is sent (storage/batches.py): each user's ask is tied
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
Conflict, and the asker decides again on what the answer wrote.

On Redis Cluster a batch's users are of one shard (its claim is one script in one slot): asks
wait by (shard, ask), and users of different shards asked the same ask go in different
requests."""
import logging
import uuid
from typing import List, NamedTuple, Sequence, Tuple, Union

import gevent
from gevent.event import AsyncResult

from chat import texts
from domain.asking import AskOutcome, AskResult
from domain.rounds import Dose
from domain.user import UserRecord
from outbox.line import MULTICAST_MAX, PushResult
from storage.batches import AskKey, ClaimStatus, TakeStatus
from storage.users import Conflict

log = logging.getLogger(__name__)

SHOWN = AskOutcome(AskResult.SHOWN)
# An ask waits while a message of the user's taken in during the last minute is still to be
# handled (it may answer the round); it is looked at again half a second later
# (domain/asking.look_again_at adds its 50 ms). A message older than that and still not
# handled was left behind: it holds no ask back, it is handled when taken over.
UNHANDLED_HOLDS_ASK_SECONDS = 60.0
UNHANDLED_WAIT_SECONDS = 0.5

_BY_PUSH_RESULT = {
    PushResult.DELIVERED: SHOWN,
    PushResult.DUPLICATE: SHOWN,
    PushResult.REFUSED: AskOutcome(AskResult.REFUSED),
    PushResult.QUOTA: AskOutcome(AskResult.REFUSED),
    PushResult.FAILED: AskOutcome(AskResult.NOT_DELIVERED),
    PushResult.UNREACHABLE: AskOutcome(AskResult.UNREACHABLE),
}


class Asked(NamedTuple):
    outcome: AskOutcome
    record: UserRecord    # as stored now: a first ask's claim saved the round started


class _Waiting:
    __slots__ = ("record", "result")

    def __init__(self, record):
        self.record = record          # the record decided on; once claimed, as stored
        self.result = AsyncResult()   # an AskOutcome, or the exception that stopped the ask


class AskBatcher:
    def __init__(self, batches, outbox, clock, lease_seconds: float,
                 batch_size: int = MULTICAST_MAX, senders: int = 32, on_delivered=None):
        self._batches = batches
        self._clock = clock    # clock() -> now (epoch s)
        self._on_delivered = on_delivered  # on_delivered(user ids): LINE took a new ask
                                           # (it must not block: it is the sender's call)
        self._outbox = outbox
        self._lease = lease_seconds
        self._batch_size = batch_size
        self._max_senders = senders
        self._waiting = {}     # (shard, AskKey) -> [_Waiting], waiting longest first
        self._senders = 0
        self._resending = {}   # batch id -> AsyncResult of its resend by this process

    def ask(self, record: UserRecord, dose: Dose, attempt: int) -> Asked:
        """Ask `record`'s user ask `attempt` of `dose`'s round, together with everyone else
        asked that ask of a round starting at the same moment. Blocks this greenlet until
        LINE has answered. Raises Conflict when the stored record changed since it was read."""
        [asked] = self.ask_together([(record, dose)], attempt)
        if isinstance(asked, Exception):
            raise asked
        return asked

    def ask_together(self, asks: Sequence[Tuple[UserRecord, Dose]],
                     attempt: int) -> List[Union[Asked, Exception]]:
        """`ask` for many users at once (the same ask: rounds that all start at the same
        moment, of doses with the same name), each record holding the dose asked (a first
        ask: its round started). Returns per record what came of its ask, or the exception
        that stopped it (Conflict: the stored record changed since it was read)."""
        waitings = [_Waiting(record) for record, _ in asks]
        first = asks[0][1]
        key = AskKey(attempt, first.at, first.name)
        if self._batches.keys.cluster:
            by_shard = self._batches.keys.by_shard(waitings, lambda waiting: waiting.record.user_id)
            for shard, group in by_shard.items():
                self._queue((shard, key), group)
        else:
            self._queue((0, key), waitings)
        results = []
        for waiting in waitings:  # a resend of an earlier batch may still be under way
            try:
                results.append(Asked(waiting.result.get(), waiting.record))
            except Exception as exc:
                results.append(exc)
        return results

    def _queue(self, key, waitings):
        """Asks wait with the others of their key (shard, ask); up to `senders` greenlets
        send them, each taking up to 500 of one key at a time, so that asks falling due one
        by one while the senders are busy go out together (LINE allows 200 multicasts a
        second)."""
        self._waiting.setdefault(key, []).extend(waitings)
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
                    self._send_batch(key, batch)
                except BaseException as exc:  # nobody waits forever for a lost batch
                    _fail(batch, exc)
                    raise
        finally:
            self._senders -= 1

    def _send_batch(self, shard_key, batch):
        shard, key = shard_key
        batch_id = str(uuid.uuid4())
        try:
            claims = self._batches.claim(
                batch_id, key, [waiting.record for waiting in batch], self._lease,
                unhandled_since=self._clock() - UNHANDLED_HOLDS_ASK_SECONDS)
        except Exception as exc:  # Redis failed: each asking actor hears it
            _fail(batch, exc)
            return
        won, resends = [], {}
        for waiting, claim in zip(batch, claims):
            if claim.status is ClaimStatus.WON:
                waiting.record = claim.record
                won.append(waiting)
            elif claim.status is ClaimStatus.CONFLICT:
                waiting.result.set_exception(Conflict(waiting.record.user_id))
            elif claim.status is ClaimStatus.UNHANDLED:  # the user said something: hear it first
                waiting.result.set(AskOutcome(AskResult.HELD, UNHANDLED_WAIT_SECONDS))
            else:  # CLAIMED: an earlier batch holds the ask
                resends.setdefault(claim.batch_id, []).append(waiting)
        for earlier, waitings in resends.items():
            gevent.spawn(self._resend_for, shard, earlier, waitings)
        if not won:
            return
        user_ids = [waiting.record.user_id for waiting in won]
        try:
            result = self._send(batch_id, user_ids, key)
        except Exception as exc:
            _fail(won, exc)
            return
        for waiting in won:
            waiting.result.set(_BY_PUSH_RESULT[result])
        if result is PushResult.DELIVERED and self._on_delivered is not None:
            self._on_delivered(user_ids)
        try:
            # After the answers, so that the askers' saves share this round trip.
            self._batches.finish(batch_id, shown=result.shown, shard=shard)
        except Exception as exc:  # harmless: whoever finds it unconfirmed resends it (409)
            log.warning("could not mark a batch of asks as sent: %s", type(exc).__name__)

    def _send(self, batch_id, user_ids, key) -> PushResult:
        attempt = key.attempt
        message = [texts.ask(attempt, key.name)]
        buttons = texts.ask_buttons(key.round_at)
        if len(user_ids) == 1:
            result = self._outbox.push(user_ids[0], message, batch_id, buttons)
        else:
            result = self._outbox.multicast(user_ids, message, batch_id, buttons)
        if result in (PushResult.REFUSED, PushResult.QUOTA):
            log.warning("ask %d not shown to %d users: %s; it counts as asked", attempt,
                        len(user_ids), result.value)
        return result

    # -- batches found unconfirmed ---------------------------------------------------------
    def _resend_for(self, shard, batch_id, waitings):
        try:
            outcome = self._resend(shard, batch_id)
        except Exception as exc:
            _fail(waitings, exc)
        else:
            for waiting in waitings:
                waiting.result.set(outcome)

    def _resend(self, shard, batch_id) -> AskOutcome:
        """Resend an earlier batch with its own recipients and retry key. Its other users
        asking in this process meanwhile wait for the same answer."""
        running = self._resending.get(batch_id)
        if running is not None:
            return running.get()
        running = self._resending[batch_id] = AsyncResult()
        try:
            outcome = self._take_and_resend(shard, batch_id)
        except Exception as exc:
            running.set_exception(exc)
            raise
        else:
            running.set(outcome)
            return outcome
        finally:
            del self._resending[batch_id]

    def _take_and_resend(self, shard, batch_id) -> AskOutcome:
        taken = self._batches.take(batch_id, self._lease, shard)
        if taken.status is TakeStatus.SENT:
            return SHOWN
        if taken.status is TakeStatus.HELD:
            return AskOutcome(AskResult.HELD, taken.lease_left)
        if taken.status is TakeStatus.GONE:  # expired with its claims: claim afresh
            return AskOutcome(AskResult.HELD, 0.0)
        body = taken.body
        log.info("resending an unconfirmed batch of %d (attempt %d) with its retry key",
                 len(body["to"]), body["attempt"])
        result = self._send(batch_id, body["to"],
                            AskKey(body["attempt"], body["round"], body.get("name")))
        self._batches.finish(batch_id, shown=result.shown, shard=shard)
        return _BY_PUSH_RESULT[result]


def _fail(batch, exc):
    for waiting in batch:
        if not waiting.result.ready():
            waiting.result.set_exception(exc)
