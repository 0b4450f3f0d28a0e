"""One actor per user: owns that user's schedule and today's reminder round.

Every change is written to Redis (compare-and-set) before the side effect it leads to, so
the in-memory record is only a cache: a crash, a restart or a second process reloads it.
"""
import logging

from actors import state
from actors.base import Actor
from actors.messages import (
    Acknowledge, DeleteSetting, Greet, Postpone, RejectTime, ReminderDue, Reschedule,
    ScheduleDue, ShowSetting, Stop,
)
from actors.schedule import local_day, next_occurrence, start_of_next_day, zone
from actors.state import UserRecord
from actors.timer import DUE_TOLERANCE
from chat import texts
from logsafe import short_id
from outbox.line import PushResult
from storage.store import Conflict, StorageUnavailable

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0
# How often an actor looks again at an ask that another sender (process) holds.
PENDING_RECHECK_SECONDS = 1.0


class UserActor(Actor):
    hibernates = True

    def __init__(self, record: UserRecord, system):
        super().__init__(system.timer, system.activity)
        self.record = record
        self.system = system
        self.settings = system.settings
        self._scheduled_due = record.due  # every stored due time is already in the dispatcher

    @property
    def user_id(self):
        return self.record.user_id

    @property
    def zone(self):
        return zone(self.record.tz or self.settings.timezone)

    # -- actor hooks ---------------------------------------------------------------------
    def on_receive(self, message):
        try:
            return self._decide(message)
        finally:
            if type(message) is ReminderDue:
                self.system.dispatcher.due_handled()

    def on_dropped(self, message):
        if type(message) is ReminderDue:
            self.system.dispatcher.due_handled()

    def _decide(self, message):
        handler = _HANDLERS[type(message)]
        for _ in range(3):
            try:
                result = handler(self, message)
                break
            except Conflict:
                self._reload()  # someone else wrote first: decide again on what they wrote
        else:
            raise Conflict(self.user_id)
        self._keep_due_scheduled()
        return result

    def on_failure(self, exc, message):
        if isinstance(exc, StorageUnavailable):  # the store logs the outage, once
            log.debug("user actor %s: Redis unavailable on %s; trying again",
                      short_id(self.user_id), type(message).__name__)
        else:
            log.error("user actor %s crashed on %s (%s); restarting from Redis",
                      short_id(self.user_id), type(message).__name__, type(exc).__name__,
                      exc_info=exc)
        try:
            self._reload()
        except StorageUnavailable:
            pass  # the retry below tries again
        except Exception as reload_exc:
            log.error("user actor %s could not reload: %s", short_id(self.user_id),
                      type(reload_exc).__name__)
        if self.record.due is not None:
            # The wake-up that crashed is spent: ask the dispatcher for another, a little later.
            retry_at = max(self.record.due, self.timer.now() + RESTART_DELAY_SECONDS)
            self.system.dispatcher.tell(ScheduleDue(self.user_id, retry_at))
        self._scheduled_due = self.record.due

    def on_idle(self):
        self.system.actor_idle(self)

    # -- chat ----------------------------------------------------------------------------
    def _reschedule(self, message: Reschedule):
        record, now = self.record, self.timer.now()
        asked_today = record.day == local_day(now, self.zone) and record.asks > 0
        if record.is_open:
            record.round = state.CANCELLED
        record.hour, record.minute = message.hour, message.minute
        soonest = next_occurrence(message.hour, message.minute, self.zone, now)
        if asked_today:
            # One round a day: a new time never asks about today's dose a second time.
            record.due = next_occurrence(message.hour, message.minute, self.zone,
                                         start_of_next_day(self.zone, now) - 1e-3)
        else:
            record.due = soonest
        self._save()
        replies = [texts.time_set(message.hour, message.minute)]
        if record.due != soonest:
            replies.append(texts.TIME_SET_FROM_TOMORROW)
        self._reply(message.reply_token, *replies)

    def _reject_time(self, message: RejectTime):
        self._reply(message.reply_token, texts.BAD_TIME)

    def _show_setting(self, message: ShowSetting):
        record = self.record
        if record.has_time:
            self._reply(message.reply_token, texts.current_setting(record.hour, record.minute))
        else:
            self._reply(message.reply_token, texts.NOT_SET)

    def _delete_setting(self, message: DeleteSetting):
        if not self.record.has_time:
            self._reply(message.reply_token, texts.NOT_SET)
            return
        self._forget()
        self._reply(message.reply_token, texts.DELETED)

    def _acknowledge(self, message: Acknowledge):
        record = self.record
        if record.is_open:
            now = self.timer.now()
            record.round = state.TAKEN
            record.answered_at = now
            record.due = next_occurrence(record.hour, record.minute, self.zone, now)
            self._save()
            self._reply(message.reply_token, texts.WELL_DONE)
        else:
            self._reply_nothing_open(message.reply_token)

    def _postpone(self, message: Postpone):
        if self.record.is_open:
            self._reply(message.reply_token, texts.LATER)
        else:
            self._reply_nothing_open(message.reply_token)

    def _reply_nothing_open(self, reply_token):
        self._reply(reply_token, texts.HELP if self.record.has_time else texts.PLEASE_SET_TIME)

    def _greet(self, message: Greet):
        record = self.record
        if record.has_time and record.due is None:  # back after a block: resume
            record.due = next_occurrence(record.hour, record.minute, self.zone, self.timer.now())
            self._save()
        self._reply(message.reply_token, texts.greeting(self.settings.snooze_interval_seconds))

    def _stop(self, message: Stop):
        self._forget()

    def _forget(self):
        self.system.store.delete(self.user_id)
        self.record.assign(UserRecord(self.user_id))

    # -- the daily round -----------------------------------------------------------------
    def _reminder_due(self, message: ReminderDue):
        # No reload first: if another process answered, rescheduled or asked meanwhile, the
        # compare-and-set in _ask refuses and on_receive decides again on what it wrote.
        record, now = self.record, self.timer.now()
        if record.due is None or record.due > now + DUE_TOLERANCE:
            return  # a stale wake: the due time moved
        max_reasks = self.settings.max_reasks
        if not record.is_open or record.asks > max_reasks:
            record.day = local_day(record.due, self.zone)
            record.round, record.asks, record.answered_at = state.ASKING, 0, None
        late = now - record.due
        if late > self.settings.missed_ask_grace_seconds:
            self._give_up_round(now)
            return
        self._ask(now)

    def _pause(self):
        """LINE cannot deliver to this user (they blocked the bot): stop asking every day.
        Their setting is kept; adding the bot again (follow) resumes it."""
        record = self.record
        record.round = state.CANCELLED if record.is_open else record.round
        record.due = None
        self._save()
        log.warning("%s cannot receive pushes; reminders paused", short_id(self.user_id))

    def _give_up_round(self, now):
        """Too late to ask (the process was down): record it and wait for the next day."""
        record = self.record
        if record.asks == 0:
            record.round = state.MISSED
            log.warning("first ask for %s missed while down; not sent", short_id(self.user_id))
        else:
            record.asks = self.settings.max_reasks + 1  # stays open: a late answer still counts
        record.due = next_occurrence(record.hour, record.minute, self.zone, now)
        self._save()

    def _ask(self, now):
        record = self.record
        day, attempt = record.day, record.asks
        if attempt > 0 and self.system.outbox.quota_exhausted:
            # No messages left this month: keep what is left for tomorrow's first asks.
            log.info("re-asks for %s stopped: message quota used up", short_id(self.user_id))
            self._give_up_round(now)
            return
        outcome = self.system.asks.ask(record, day, attempt)  # saves the record if won
        result = outcome.result
        if result is None:
            # Another sender holds this attempt (in flight, or it died). Until it is done the
            # record is theirs: write nothing, look again soon (in memory only). By then they
            # have saved the next due time, or their lease has run out and this one resends.
            record.due = now + min(outcome.wait, PENDING_RECHECK_SECONDS) + 0.05
            return
        if result is PushResult.UNREACHABLE:
            self._pause()
            return
        if result is PushResult.FAILED:
            # LINE is having trouble: the user has not seen this ask, so it stays the next
            # one (not "飲んだ??" for a "飲んだ?" nobody saw), until the next day's round.
            self._retry_later(self.timer.now())
            return
        # Shown, or refused / no quota (logged once per batch): this ask is spent either way.
        record.asks = attempt + 1
        now = self.timer.now()  # the next ask is spaced from this one's delivery
        if record.asks <= self.settings.max_reasks:
            record.due = now + self.settings.snooze_interval_seconds
        else:
            record.due = next_occurrence(record.hour, record.minute, self.zone, now)
        self._save()

    def _retry_later(self, now):
        record = self.record
        retry_at = now + self.settings.snooze_interval_seconds
        if retry_at >= next_occurrence(record.hour, record.minute, self.zone, now):
            self._give_up_round(now)
            return
        log.warning("ask %d for %s not delivered; trying again later", record.asks,
                    short_id(self.user_id))
        record.due = retry_at
        self._save()

    # -- plumbing ------------------------------------------------------------------------
    def _save(self):
        self.system.store.save(self.record)

    def _reload(self):
        stored = self.system.store.load(self.user_id)
        self.record.assign(stored if stored is not None else UserRecord(self.user_id))

    def _keep_due_scheduled(self):
        due = self.record.due
        if due is not None and due != self._scheduled_due:
            self.system.dispatcher.tell(ScheduleDue(self.user_id, due))
        self._scheduled_due = due

    def _reply(self, reply_token, *lines):
        if reply_token:
            self.system.outbox.reply(reply_token, lines)


# Built once: a burst activates thousands of actors.
_HANDLERS = {
    Reschedule: UserActor._reschedule, RejectTime: UserActor._reject_time,
    ShowSetting: UserActor._show_setting, DeleteSetting: UserActor._delete_setting,
    Acknowledge: UserActor._acknowledge, Postpone: UserActor._postpone,
    Greet: UserActor._greet, Stop: UserActor._stop, ReminderDue: UserActor._reminder_due,
}
