"""One actor per user: owns that user's times and the round of each.

The decisions are the domain's (`domain.rounds.decide`, `domain.schedule`); the actor is the
shell around them. For each message it applies the domain to its record, saves the result
(compare-and-set, together with the record's tally changes) and then carries out the effects:
the ask, the reply, the next wake-up. Its in-memory record is only a cache of Redis: when
another process wrote first (Conflict) it reloads and decides again, and a crash or a restart
reloads it too.
"""
import logging
from datetime import date
from typing import Optional

from actors.base import Actor
from actors.asks import ROUND_EVENT, AskResult
from actors.messages import (
    EndWatches, Forget, Greet, MessageReceived, Postpone, RedeemWatchCode, RejectTime,
    ReminderDue, RemoveTimes, RequestWatchCode, SetTimes, SetZone, SetZoneAt,
    ShowHelp, ShowRecord, ShowSetting, TookTapped,
)
from actors.notices import alert_retry_key
from actors.saving import pause, save_decided
from chat import record_card, texts
from domain import history, places, schedule, watch
from domain.rounds import (
    DUE_TOLERANCE, Answered, Ask, Due, HeldElsewhere, LookAgain, Resume, RoundState, decide,
    look_again_at,
)
from domain.user import UserRecord
from domain.wallclock import local_day, zone
from logsafe import short_id
from outbox.line import PushResult
from storage.store import Conflict, StorageUnavailable
from storage.watches import Redeem

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

    @property
    def zone(self):
        return zone(self.record.tz or self.settings.timezone)

    # -- actor hooks ---------------------------------------------------------------------
    def on_receive(self, message):
        woken = type(message) is ReminderDue
        if woken:
            self._scheduled_due = None  # this wake-up is spent: whatever is due next is new
        try:
            if self.record is None:
                self._reload()
            self._saved = False
            result = self._decide(message)
            self._keep_due_scheduled(woken)
            self.system.failures.pop(self.user_id, None)
            return result
        finally:
            if woken:
                self.system.scheduler.due_handled()
            else:  # answered or not, the message's reply is owed no more (outbox/backlog.py)
                self.system.outbox.backlog.settle(getattr(message, "reply_token", None))

    def on_dropped(self, message):
        if type(message) is ReminderDue:
            self.system.scheduler.due_handled()
        else:
            self.system.outbox.backlog.settle(getattr(message, "reply_token", None))

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
            # A record that cannot be read cannot be asked: it stays stored as it is (for
            # whoever repairs it), out of the due index, so nobody wakes it every lease.
            log.error("user actor %s could not reload: %s; not asked until its record can "
                      "be read", short_id(self.user_id), type(reload_exc).__name__)
            try:
                self.system.store.schedule(self.user_id, None)
            except StorageUnavailable:
                pass
            return
        due = self.record.due
        if due is not None:
            # The wake-up that crashed is spent: ask for another, a little later.
            retry_at = max(due, self.timer.now() + delay)
            try:
                self.system.store.schedule(self.user_id, retry_at)
            except StorageUnavailable:
                return
            self.system.scheduler.schedule(self.user_id, retry_at)
        self._scheduled_due = due

    def on_idle(self):
        self.system.actor_idle(self)

    def _restart_delay(self) -> float:
        """1, 2, 4 ... s after each failure in a row, at most MAX_RESTART_DELAY_SECONDS. The
        count is the system's: an actor goes when idle, the user's failures stay counted."""
        failures = self.system.failures
        count = failures[self.user_id] = failures.get(self.user_id, 0) + 1
        return min(RESTART_DELAY_SECONDS * 2 ** min(count - 1, 20), MAX_RESTART_DELAY_SECONDS)

    # -- the schedule ----------------------------------------------------------------------
    def _set_times(self, message: SetTimes):
        record, now = self.record, self.timer.now()
        try:
            if message.add:
                record.rounds = schedule.add(record.rounds, message.times, now, self.zone)
            else:
                replaced = schedule.replace(record.rounds, message.times, now, self.zone)
                record.rounds = replaced.rounds
        except schedule.TooManyTimes:
            self._reply(message.reply_token, texts.TOO_MANY_TIMES)
            return
        self._save()
        if message.add:
            self._reply(message.reply_token, texts.times_added(message.times, record.times))
        elif replaced.from_tomorrow:
            self._reply(message.reply_token, texts.times_set(record.times),
                        texts.TIME_SET_FROM_TOMORROW)
        else:
            self._reply(message.reply_token, texts.times_set(record.times))

    def _remove_times(self, message: RemoveTimes):
        record = self.record
        if not message.times:
            if not record.has_time:
                self._reply(message.reply_token, texts.NOT_SET)
                return
            self._forget_times()
            self._reply(message.reply_token, texts.DELETED)
            return
        removal = schedule.remove(record.rounds, message.times)
        if removal.not_set:
            self._reply(message.reply_token, texts.times_not_set(removal.not_set))
            return
        if removal.rounds:
            record.rounds = removal.rounds
            self._save()
        else:
            self._forget_times()
        self._reply(message.reply_token,
                    texts.times_removed(removal.removed, self.record.times))

    def _reject_time(self, message: RejectTime):
        self._reply(message.reply_token, texts.BAD_TIME)

    def _show_setting(self, message: ShowSetting):
        record = self.record
        if not record.has_time:
            self._reply(message.reply_token, texts.NOT_SET)
            return
        own_zone = record.tz if record.tz and record.tz != self.settings.timezone else None
        watchers = [self.system.notices.name_of(watcher)
                    for watcher in self.system.watches.watchers(self.user_id)]
        self._reply(message.reply_token,
                    texts.current_setting(record.times, own_zone, watchers))

    def _show_record(self, message: ShowRecord):
        now, tz = self.timer.now(), self.zone
        calendar = history.calendar(date.fromisoformat(local_day(now, tz)),
                                    self.system.store.history(self.user_id),
                                    self.record.rounds, now, tz)
        self._reply(message.reply_token, record_card.record_message(calendar))

    def _show_help(self, message: ShowHelp):
        self._reply(message.reply_token, texts.HELP)

    # -- answers -------------------------------------------------------------------------
    def _message_received(self, message: MessageReceived):
        # Whatever is said answers the open rounds; with none open, 飲んだ answers the missed
        # ones late.
        answered = [round for round in self.record.rounds if round.is_open]
        if not answered and message.took:
            answered = [round for round in self.record.rounds
                        if round.state is RoundState.MISSED]
        if not answered:
            self._reply_nothing_open(message.reply_token)
            return
        self._answer(answered)
        self._reply(message.reply_token, texts.WELL_DONE)

    def _took_tapped(self, message: TookTapped):
        tapped = next((round for round in self.record.rounds
                       if round.at is not None and int(round.at) == message.round_at), None)
        if tapped is not None and tapped.answerable:
            self._answer([tapped])
            self._reply(message.reply_token, texts.WELL_DONE)
        elif tapped is not None and tapped.state in (RoundState.TAKEN, RoundState.LATE):
            self._reply(message.reply_token, texts.WELL_DONE)  # tapped twice
        else:
            self._reply_nothing_open(message.reply_token)

    def _answer(self, rounds):
        now, changes = self.timer.now(), []
        for round in rounds:
            answered, effects = decide(round, Answered(), now, self.rules, self.zone)
            self.record.replace_round(round, answered)
            changes += effects
        self._save(changes)

    def _postpone(self, message: Postpone):
        if self.record.is_open:
            self._reply(message.reply_token, texts.LATER)
        else:
            self._reply_nothing_open(message.reply_token)

    def _reply_nothing_open(self, reply_token):
        self._reply(reply_token, texts.HELP if self.record.has_time else texts.PLEASE_SET_TIME)

    # -- family watch ----------------------------------------------------------------------
    def _request_watch_code(self, message: RequestWatchCode):
        code = self.system.watches.new_code(self.user_id)
        self._reply(message.reply_token, texts.watch_code(code))

    def _redeem_watch_code(self, message: RedeemWatchCode):
        redeemed = self.system.watches.redeem(message.code, self.user_id)
        if redeemed.status is Redeem.STARTED:
            notices = self.system.notices
            self._reply(message.reply_token,
                        texts.watching_started(notices.name_of(redeemed.owner)))
            notices.notify_soon([redeemed.owner],
                                texts.watched_by(notices.name_of(self.user_id)))
            return
        self._reply(message.reply_token, _REFUSED_CODE[redeemed.status])

    def _end_watches(self, message: EndWatches):
        watches = self.system.watches
        others = watches.end_watchers_of(self.user_id) + watches.end_watching_by(self.user_id)
        if not others:
            self._reply(message.reply_token, texts.NO_WATCH)
            return
        self._reply(message.reply_token, texts.WATCH_ENDED)
        self._tell_watch_over(others)

    def _tell_watch_over(self, others):
        if others:
            self.system.notices.notify_soon(
                sorted(set(others)), texts.watch_over(self.system.notices.name_of(self.user_id)))

    def _send_due_alerts(self, now):
        """Tell each watcher an alert owes them. A watcher another process is telling now is
        left to it (looked at again in a moment, nothing written); what LINE could not take
        waits an interval."""
        record = self.record
        if not any(alert.due <= now + DUE_TOLERANCE for alert in record.alerts):
            return
        system = self.system
        name = system.notices.name_of(self.user_id)
        rounds, kept, held = record.rounds, [], None
        for alert in record.alerts:
            if alert.due > now + DUE_TOLERANCE:
                kept.append(alert)
                continue
            say = texts.missed_alert if alert.kind == watch.MISSED else texts.taken_alert
            text, failed, elsewhere = say(name, alert.hour, alert.minute), [], []
            for watcher in alert.to:
                wait = system.store.claim_alert(self.user_id, alert.id, watcher,
                                                self.settings.push_lease_seconds)
                if wait:
                    elsewhere.append(watcher)
                    held = wait if held is None else min(held, wait)
                    continue
                result = system.notices.alert(watcher, text,
                                              alert_retry_key(self.user_id, alert.id, watcher))
                if result is PushResult.FAILED:
                    failed.append(watcher)
                elif result.shown:
                    rounds = watch.told(rounds, alert, watcher)
            if failed:
                kept.append(alert._replace(to=tuple(failed) + tuple(elsewhere),
                                           due=self.timer.now() + self.rules.snooze_interval))
            elif elsewhere:
                kept.append(alert._replace(to=tuple(elsewhere)))
        if held is not None and rounds == record.rounds and len(kept) == len(record.alerts):
            # Only held elsewhere: theirs to finish; look again without writing anything.
            look_again = look_again_at(now, held)
            record.alerts = tuple(alert._replace(due=max(alert.due, look_again))
                                  for alert in record.alerts)
            return
        record.rounds, record.alerts = rounds, tuple(kept)
        self._save()

    # -- the user's time zone ----------------------------------------------------------------
    def _set_zone(self, message: SetZone):
        if message.zone is None:
            self._reply(message.reply_token, texts.ZONE_UNKNOWN)
            return
        record = self.record
        record.tz = message.zone
        record.rounds = schedule.rezone(record.rounds, self.timer.now(), self.zone)
        self._save()
        self._reply(message.reply_token, texts.zone_set(message.zone))

    def _set_zone_at(self, message: SetZoneAt):
        self._set_zone(SetZone(places.zone_at(message.latitude, message.longitude),
                               message.reply_token))

    # -- following ---------------------------------------------------------------------------
    def _greet(self, message: Greet):
        if self._apply_to_all(Resume()):  # back after a block: resume
            self._save()
        self._reply(message.reply_token, texts.greeting(self.settings.snooze_interval_seconds))

    def _forget(self, message: Forget):
        watchers, watched = self.system.watches.forget(self.user_id)
        self.system.store.forget(self.user_id)
        self.record = UserRecord(self.user_id)
        self._saved = True
        self._tell_watch_over(watchers + watched)

    def _forget_times(self):
        """No times left. A zone the user chose and alerts still owed stay stored."""
        record = self.record
        if record.tz or record.alerts:
            record.rounds = ()
            self._save()
            return
        self.system.store.delete(self.user_id)
        self.record = UserRecord(self.user_id)
        self._saved = True

    def _pause(self):
        pause(self.record, self.timer.now(), self.rules, self.zone)
        self._save()

    def _apply_to_all(self, event) -> bool:
        return self.record.apply_to_all(event, self.timer.now(), self.rules, self.zone)

    # -- the daily rounds ----------------------------------------------------------------
    def _reminder_due(self, message: ReminderDue):
        # No reload first: if another process answered, rescheduled or asked meanwhile, the
        # claim or the compare-and-set refuses, and on_receive decides again on what it wrote.
        now = self.timer.now()
        self._send_due_alerts(now)
        due_times = [round.time for round in sorted(self.record.rounds, key=_due_order)
                     if round.due is not None and round.due <= now + DUE_TOLERANCE]
        for time in due_times:
            round = next((r for r in self.record.rounds if r.time == time), None)
            if round is not None:
                self._run_round(round, now)

    def _run_round(self, round, now):
        due = Due(reasks_allowed=not self.system.outbox.quota_exhausted)
        started, effects = decide(round, due, now, self.rules, self.zone)
        self.record.replace_round(round, started)
        ask = next((effect for effect in effects if isinstance(effect, Ask)), None)
        if ask is None:
            if started != round:
                self._save(effects)
            return
        # The claim checks that the record is still the one this decision was made on; the
        # round's progress is saved once LINE has answered.
        outcome = self.system.asks.ask(self.record, started, ask.attempt)
        if outcome.result is AskResult.UNREACHABLE:
            self._pause()
            return
        event = ROUND_EVENT.get(outcome.result) or HeldElsewhere(outcome.wait)
        if outcome.result is AskResult.NOT_DELIVERED:
            log.warning("ask %d for %s not delivered; trying again later", ask.attempt,
                        short_id(self.user_id))
        # The next ask is spaced from this one's delivery.
        asked, effects = decide(started, event, self.timer.now(), self.rules, self.zone)
        look_again = next((e for e in effects if isinstance(e, LookAgain)), None)
        if look_again is not None:
            # The ask belongs to another sender until then: nothing is written (in memory).
            self.record.replace_round(started, asked._replace(due=look_again.at))
            return
        self.record.replace_round(started, asked)
        self._save(effects)

    # -- plumbing ------------------------------------------------------------------------
    def _save(self, effects=()):
        save_decided(self.system, self.record, effects)
        self._saved = True

    def _reload(self):
        stored = self.system.store.load(self.user_id)
        self.record = stored if stored is not None else UserRecord(self.user_id)

    def _keep_due_scheduled(self, woken: bool):
        """The due index holds what the last save wrote; a wake-up that saved nothing (a
        stale one, an ask held elsewhere) left the user a lease ahead there: put them at
        their due time. And this process's scheduler hears of a due time set here."""
        due = self.record.due
        if woken and not self._saved:
            self.system.store.schedule(self.user_id, due)
        if due is not None and due != self._scheduled_due:
            self.system.scheduler.schedule(self.user_id, due)
        self._scheduled_due = due

    def _reply(self, reply_token, *messages):
        if reply_token:
            self.system.outbox.reply(reply_token, messages)


def _due_order(round):
    return round.due if round.due is not None else float("inf")


# Built once: a burst activates thousands of actors.
_HANDLERS = {
    SetTimes: UserActor._set_times, RemoveTimes: UserActor._remove_times,
    RejectTime: UserActor._reject_time, ShowSetting: UserActor._show_setting,
    ShowRecord: UserActor._show_record, ShowHelp: UserActor._show_help,
    MessageReceived: UserActor._message_received, TookTapped: UserActor._took_tapped,
    Postpone: UserActor._postpone, Greet: UserActor._greet, Forget: UserActor._forget,
    RequestWatchCode: UserActor._request_watch_code,
    RedeemWatchCode: UserActor._redeem_watch_code, EndWatches: UserActor._end_watches,
    SetZone: UserActor._set_zone, SetZoneAt: UserActor._set_zone_at,
    ReminderDue: UserActor._reminder_due,
}

_REFUSED_CODE = {
    Redeem.UNKNOWN: texts.CODE_NOT_FOUND, Redeem.OWN: texts.OWN_CODE,
    Redeem.FULL: texts.TOO_MANY_WATCHERS, Redeem.LOCKED: texts.TRY_LATER,
}
