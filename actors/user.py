"""One actor per user while they have work: owns that user's record (times, the round of each
dose, the alerts owed to watchers) and handles one message at a time.

The decisions are the domain's; the actor is the shell around them. For each message it
decides on its record, saves the result (compare-and-set, with the history changes it brings)
and then carries out the effects: the ask, the reply, the next wake-up. Its record is only a
copy of Redis's: when another process wrote first (Conflict) it reloads and handles the
message again, and a crash or a restart reloads it too. The chat's requests are handled in
actors/requests.py, family watch in actors/watching.py; the daily rounds here."""
import logging
from typing import Optional

from actors import requests, watching
from actors.base import Actor
from actors.messages import FromWebhook, ReminderDue
from actors.saving import log_paused, save_decided
from domain.asking import AskResult, after_ask
from domain.rounds import DUE_TOLERANCE, Due, SendAsk, decide
from domain.user import UserRecord
from domain.wallclock import zone
from logsafe import short_id
from outbox.line import reply_messages
from storage.outage import StorageUnavailable
from storage.users import Answering, Conflict

log = logging.getLogger(__name__)

# A user whose wake-ups keep failing (a bug, a stored zone this machine does not know) is
# looked at again 1, 2, 4 ... s later, at most an hour apart: never given up on (a fix or a
# repaired record brings them back by itself), never a traceback every second.
RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 3600.0


class UserActor(Actor):
    hibernates = True

    def __init__(self, user_id: str, record: Optional[UserRecord], system):
        super().__init__(system.timer, system.activity)
        self.user_id = user_id
        self.record = record          # None: loaded from Redis with the first message
        self.system = system
        self.settings = system.settings
        self.rules = system.rules
        self._scheduled_due = None    # the due time the scheduler last heard of from here
        self._saved = False           # this message's handling saved the record
        self._event = None            # the webhook event this message came with, if any

    # -- what handlers use ---------------------------------------------------------------
    @property
    def zone(self):
        return zone(self.record.tz or self.settings.timezone)

    def now(self) -> float:
        return self.timer.now()

    def save(self, record: UserRecord, effects=()) -> UserRecord:
        """Save `record` with what its ended rounds bring; it is the actor's record from now
        on. Raises Conflict when another process wrote first."""
        self.record = save_decided(self.system, record, effects)
        self._saved = True
        return self.record

    def save_and_reply(self, record: UserRecord, reply_token, *messages, effects=(),
                       quick_reply=()) -> UserRecord:
        """`save` with the reply it brings, then the reply. Answering a webhook event, the
        reply owed is saved in the same call as the change: a process killed before the reply
        went out leaves it to another to send (storage/events.py)."""
        answering = self._answering(reply_token, messages, quick_reply)
        self.record = save_decided(self.system, record, effects, answering)
        self._saved = True
        self.reply(reply_token, *messages, quick_reply=quick_reply)
        return self.record

    def delete_and_reply(self, reply_token, *messages) -> None:
        """The user's record is deleted (their history stays), then the reply."""
        self.system.store.users.delete(self.user_id, self._answering(reply_token, messages, ()))
        self.replace_record(UserRecord(self.user_id))
        self.reply(reply_token, *messages)

    def _answering(self, reply_token, messages, quick_reply) -> Optional[Answering]:
        if self._event is None:
            return None
        owed = reply_messages(messages, quick_reply) if reply_token else []
        return Answering(self._event, self.system.store.events.applied(
            self.user_id, reply_token, owed))

    def replace_record(self, record: UserRecord, saved: bool = True) -> None:
        """The record is now `record`, as stored (`saved`: this handling wrote it, or deleted
        it), or as kept in memory only."""
        self.record = record
        self._saved = self._saved or saved

    def reply(self, reply_token, *messages, quick_reply=()):
        if reply_token:
            self.system.outbox.reply(reply_token, messages, quick_reply)

    # -- actor hooks ---------------------------------------------------------------------
    def on_receive(self, message):
        woken = type(message) is ReminderDue
        if woken:
            self._scheduled_due = None  # this wake-up is spent: whatever is due next is new
        if type(message) is FromWebhook:
            self._event, message = message.event_id, message.message
        try:
            if self.record is None:
                self._reload()
            self._saved = False
            self._decide(message)
            self._keep_due_scheduled(woken)
            self.system.failures.pop(self.user_id, None)
        finally:
            if woken:
                self.system.scheduler.due_handled()
            else:  # answered or not, the message's reply is owed no more (outbox/backlog.py)
                self.system.outbox.backlog.settle(getattr(message, "reply_token", None))
            if self._event is not None and not self._stopped:
                self._finish_event()  # (cut short by a stop, it stays for another process)

    def _finish_event(self):
        """Handled, or its handling failed (it is not tried again, as a message that crashed
        the actor never was): a redelivery is a duplicate from now on."""
        event, self._event = self._event, None
        self.system.inbox.finished(event, self.user_id)

    def on_dropped(self, message):
        if type(message) is ReminderDue:
            self.system.scheduler.due_handled()
        else:
            said = message.message if type(message) is FromWebhook else message
            self.system.outbox.backlog.settle(getattr(said, "reply_token", None))
        if type(message) is FromWebhook and not self._stopped:
            # Dropped after the actor kept failing: finished, as a message that crashed it
            # is. (Dropped by a stop, it stays in the inbox for another process.)
            self.system.inbox.finished(message.event_id, self.user_id)

    def _decide(self, message):
        handler = _HANDLERS[type(message)]
        for _ in range(3):
            try:
                return handler(self, message)
            except Conflict:
                self._reload()  # someone else wrote first: decide again on what they wrote
        raise Conflict(self.user_id)

    def on_failure(self, exc, message):
        if isinstance(exc, StorageUnavailable):  # the store logs the outage, once
            delay = RESTART_DELAY_SECONDS
            log.debug("user actor %s: Redis unavailable on %s; trying again",
                      short_id(self.user_id), type(message).__name__)
        else:
            # A wake-up that keeps failing backs off; a message's failure does not delay asks.
            delay = (self._restart_delay() if type(message) is ReminderDue
                     else RESTART_DELAY_SECONDS)
            log.error("user actor %s crashed on %s (%s); restarting from Redis, due again "
                      "in %.0f s at the earliest", short_id(self.user_id),
                      type(message).__name__, type(exc).__name__, delay, exc_info=exc)
        try:
            self._reload()
        except StorageUnavailable:
            return  # the due index still holds the user: the scheduler comes back to them
        except Exception as reload_exc:
            self._unreadable(reload_exc)
            return
        due = self.record.due
        if due is not None:
            # The wake-up that crashed is spent: ask for another, a little later.
            retry_at = max(due, self.timer.now() + delay)
            try:
                self.system.store.due.schedule(self.user_id, retry_at)
            except StorageUnavailable:
                return
            self.system.scheduler.schedule(retry_at)
        self._scheduled_due = due

    def _unreadable(self, exc):
        """A record that cannot be read cannot be asked: it stays stored as it is (for
        whoever repairs it), out of the due index, so nobody wakes it every lease."""
        log.error("user actor %s could not reload: %s; not asked until its record can be "
                  "read", short_id(self.user_id), type(exc).__name__)
        try:
            self.system.store.due.schedule(self.user_id, None)
        except StorageUnavailable:
            pass

    def on_idle(self):
        self.system.actor_idle(self)

    def _restart_delay(self) -> float:
        """1, 2, 4 ... s after each failure in a row, at most MAX_RESTART_DELAY_SECONDS. The
        count is the system's: an actor goes when idle, the user's failures stay counted."""
        failures = self.system.failures
        count = failures[self.user_id] = failures.get(self.user_id, 0) + 1
        return min(RESTART_DELAY_SECONDS * 2 ** min(count - 1, 20), MAX_RESTART_DELAY_SECONDS)

    # -- the daily rounds ----------------------------------------------------------------
    def _reminder_due(self, message: ReminderDue):
        # No reload first: if another process answered, rescheduled or asked meanwhile, the
        # claim or the compare-and-set refuses, and _decide handles it again on what it wrote.
        now = self.timer.now()
        watching.send_due_alerts(self, now)
        due_times = [dose.time for dose in sorted(self.record.doses, key=_due_order)
                     if dose.due is not None and dose.due <= now + DUE_TOLERANCE]
        for time in due_times:
            dose = next((d for d in self.record.doses if d.time == time), None)
            if dose is not None:
                self._run_round(dose, now)

    def _run_round(self, dose, now):
        due = Due(reasks_allowed=not self.system.outbox.quota_exhausted)
        started, effects = decide(dose, due, now, self.rules, self.zone)
        record = self.record.with_dose(dose, started)
        ask = next((effect for effect in effects if isinstance(effect, SendAsk)), None)
        if ask is None:
            if started != dose:
                self.save(record, effects)
            return
        # The claim checks that the record is still the one this decision was made on (and
        # saves a round it starts); the round's progress is saved once LINE has answered.
        asked = self.system.asks.ask(record, started, ask.attempt)
        if asked.outcome.result is AskResult.UNREACHABLE:
            log_paused(self.user_id)
        elif asked.outcome.result is AskResult.NOT_DELIVERED:
            log.warning("ask %d for %s not delivered; trying again later", ask.attempt,
                        short_id(self.user_id))
        step = after_ask(asked.record, started, asked.outcome, self.timer.now(), self.rules,
                         self.zone)
        if step.save:
            self.save(step.record, step.effects)
        else:  # the ask belongs to another sender until then: nothing is written
            self.replace_record(step.record, saved=False)

    # -- plumbing ------------------------------------------------------------------------
    def _reload(self):
        stored = self.system.store.users.load(self.user_id)
        self.record = stored if stored is not None else UserRecord(self.user_id)

    def _keep_due_scheduled(self, woken: bool):
        """The due index holds what the last save wrote; a wake-up that saved nothing (a
        stale one, an ask held elsewhere) left the user a lease ahead there: put them at
        their due time. And this process's scheduler hears of a due time set here."""
        due = self.record.due
        if woken and not self._saved:
            self.system.store.due.schedule(self.user_id, due)
        if due is not None and due != self._scheduled_due:
            self.system.scheduler.schedule(due)
        self._scheduled_due = due


def _due_order(dose):
    return dose.due if dose.due is not None else float("inf")


# Built once: a burst activates thousands of actors.
_HANDLERS = {**requests.HANDLERS, **watching.HANDLERS, ReminderDue: UserActor._reminder_due}
