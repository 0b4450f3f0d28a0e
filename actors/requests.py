"""What a user asks of the bot in the chat, handled by their actor (actors/user.py): their
times, their zone, answers to a round, their history (記録), help, following and blocking.

Each handler takes the actor and the message; it decides with the domain on `actor.record`
and either replies (nothing changed) or saves the change with its reply through
`actor.save_and_reply` (compare-and-set: a Conflict makes the actor reload and handle the
message again; the reply is saved with the change, so a process killed before it went out
leaves it to another to send)."""
from datetime import date

from actors import watching
from actors.messages import (
    ChangeSchedule, Forget, Greet, KeepSchedule, MessageReceived, NameDose, Postpone,
    RejectTime, RemoveTimes, SetTimes, SetZone, SetZoneAt, ShowHelp, ShowHistory, ShowSetting,
    TimePicked, TookTapped,
)
from chat import history_card, texts
from domain import history, places, schedule
from domain.rounds import Answered, RoundState, Resume, decide
from domain.user import UserRecord
from domain.wallclock import local_day, zone


# -- the schedule ------------------------------------------------------------------------------
def set_times(actor, message: SetTimes):
    if message.add:
        add_times(actor, message)
        return
    record = actor.record
    try:
        replaced = schedule.replace(record.doses, message.times, message.days, actor.now(),
                                    actor.zone)
    except schedule.TooManyTimes:
        actor.reply(message.reply_token, texts.TOO_MANY_TIMES)
        return
    if message.in_passing and schedule.asks_before_replacing(record.doses):
        # 明日は10時に病院です: ask before a sentence wipes a schedule worth keeping.
        buttons = texts.change_buttons(schedule.fingerprint(record.doses), message.times,
                                       message.days)
        actor.reply(message.reply_token, texts.change_question(replaced.doses, record.doses),
                    quick_reply=buttons)
        return
    said = (texts.times_set(replaced.doses),)
    if replaced.waits_until is not None:  # a replaced time was asked today
        first, today = (date.fromisoformat(local_day(at, actor.zone))
                        for at in (replaced.waits_until, actor.now()))
        said += (texts.asked_today_so_from(first, today),)
    actor.save_and_reply(record._replace(doses=replaced.doses), message.reply_token, *said)


def change_schedule(actor, message: ChangeSchedule):
    if schedule.fingerprint(actor.record.doses) != message.schedule:
        actor.reply(message.reply_token, texts.KEPT)  # it changed since the question
        return
    set_times(actor, SetTimes(message.times, reply_token=message.reply_token,
                              days=message.days))


def keep_schedule(actor, message: KeepSchedule):
    actor.reply(message.reply_token, texts.KEPT)


def add_times(actor, message: SetTimes):
    record = actor.record
    try:
        added = schedule.add(record.doses, message.times, message.days, actor.now(),
                             actor.zone)
    except schedule.TooManyTimes:
        actor.reply(message.reply_token, texts.TOO_MANY_TIMES)
        return
    if not added.added:
        actor.reply(message.reply_token, texts.times_already_set(added.already, record.doses))
        return
    actor.save_and_reply(record._replace(doses=added.doses), message.reply_token,
                         texts.times_added(added.added, added.doses))


def name_dose(actor, message: NameDose):
    hour, minute = message.time
    if message.name is not None and len(message.name) > schedule.MAX_NAME_LENGTH:
        actor.reply(message.reply_token, texts.NAME_TOO_LONG)
        return
    record = actor.record
    try:
        doses = schedule.name(record.doses, message.time, message.name)
    except schedule.NotSet:
        actor.reply(message.reply_token, texts.times_not_set([message.time]))
        return
    said = (texts.name_cleared(hour, minute) if message.name is None
            else texts.named(hour, minute, message.name))
    actor.save_and_reply(record._replace(doses=doses), message.reply_token, said)


def time_picked(actor, message: TimePicked):
    """The time picker: like 「{H}時{M}分も」, or the whole schedule when none is set."""
    set_times(actor, SetTimes((message.time,), add=actor.record.has_time,
                              reply_token=message.reply_token))


def remove_times(actor, message: RemoveTimes):
    record = actor.record
    if not message.times:
        if not record.has_time:
            actor.reply(message.reply_token, texts.NOT_SET)
            return
        forget_times(actor, message.reply_token, texts.DELETED)
        return
    removal = schedule.remove(record.doses, message.times)
    if removal.not_set:
        actor.reply(message.reply_token, texts.times_not_set(removal.not_set))
        return
    said = texts.times_removed(removal.removed, removal.doses)
    if removal.doses:
        actor.save_and_reply(record._replace(doses=removal.doses), message.reply_token, said)
    else:
        forget_times(actor, message.reply_token, said)


def forget_times(actor, reply_token, said):
    """No times left. A zone the user chose and alerts still owed stay stored."""
    record = actor.record
    if record.tz or record.alerts:
        actor.save_and_reply(record._replace(doses=()), reply_token, said)
        return
    actor.delete_and_reply(reply_token, said)


def reject_time(actor, message: RejectTime):
    actor.reply(message.reply_token, texts.BAD_TIME)


def show_setting(actor, message: ShowSetting):
    """The times (ばいばい deletes them, not the zone or the watches), the zone, the watches."""
    record = actor.record
    default_zone = actor.settings.timezone
    own_zone = record.tz if record.tz and record.tz != default_zone else None
    watches = actor.system.watches
    watcher_ids = list(watches.watchers(actor.user_id))
    names = actor.system.notices.names_of(watcher_ids + list(watches.watching(actor.user_id)))
    watchers, watching = names[:len(watcher_ids)], names[len(watcher_ids):]  # looked up at once
    actor.reply(message.reply_token,
                texts.current_setting(record.doses, own_zone, watchers, watching))


# -- the user's time zone ------------------------------------------------------------------------
def set_zone(actor, message: SetZone):
    if message.zone is None:
        actor.reply(message.reply_token, texts.ZONE_UNKNOWN)
        return
    record = actor.record
    doses = schedule.rezone(record.doses, actor.now(), zone(message.zone))
    actor.save_and_reply(record._replace(tz=message.zone, doses=doses), message.reply_token,
                         texts.zone_set(message.zone))


def set_zone_at(actor, message: SetZoneAt):
    set_zone(actor, SetZone(places.zone_at(message.latitude, message.longitude),
                            message.reply_token))


# -- answers -------------------------------------------------------------------------------------
def message_received(actor, message: MessageReceived):
    # Whatever is said answers the open rounds; with none open, 飲んだ answers the missed ones
    # late.
    doses = actor.record.doses
    answered = [dose for dose in doses if dose.is_open]
    if not answered and message.took:
        answered = [dose for dose in doses if dose.state is RoundState.MISSED]
    if not answered:
        reply_nothing_open(actor, message.reply_token)
        return
    answer(actor, answered, message.reply_token)


def took_tapped(actor, message: TookTapped):
    tapped = next((dose for dose in actor.record.doses
                   if dose.at is not None and int(dose.at) == message.round_at), None)
    if tapped is not None and tapped.answerable:
        answer(actor, [tapped], message.reply_token)
    elif tapped is not None and tapped.state in (RoundState.TAKEN, RoundState.LATE):
        actor.reply(message.reply_token, texts.WELL_DONE)  # tapped twice
    else:
        reply_nothing_open(actor, message.reply_token)


def answer(actor, doses, reply_token):
    now, record, effects = actor.now(), actor.record, []
    for dose in doses:
        answered, ended = decide(dose, Answered(), now, actor.rules, actor.zone)
        record = record.with_dose(dose, answered)
        effects += ended
    actor.save_and_reply(record, reply_token, texts.WELL_DONE, effects=effects)


def postpone(actor, message: Postpone):
    if actor.record.is_open:
        actor.reply(message.reply_token, texts.LATER)
    else:
        reply_nothing_open(actor, message.reply_token)


def reply_nothing_open(actor, reply_token):
    actor.reply(reply_token, texts.HELP if actor.record.has_time else texts.PLEASE_SET_TIME,
                quick_reply=texts.UNDER_HELP)


# -- the history (記録) and help ------------------------------------------------------------------
def show_history(actor, message: ShowHistory):
    """The user's own calendar; for someone who watches others, a carousel: their own (when
    they have a time or a marked day), then each person they watch, in the order the watches
    began."""
    own = _calendar(actor, actor.record)
    watched = actor.system.watches.watching(actor.user_id)
    if not watched:
        actor.reply(message.reply_token, history_card.history_message(own))
        return
    if not actor.record.has_time and all(cell.mark is history.Mark.BLANK for cell in own.days):
        own = None
    names = actor.system.notices.names_of(watched)
    records = actor.system.store.users.load_many(watched)
    theirs = [(name, _calendar(actor, record or UserRecord(user_id)))
              for name, user_id, record in zip(names, watched, records)]
    actor.reply(message.reply_token, *history_card.watcher_history_messages(own, theirs))


def _calendar(actor, record: UserRecord) -> history.Calendar:
    """`record`'s user's last four weeks, up to today in their zone."""
    now, tz = actor.now(), zone(record.tz or actor.settings.timezone)
    return history.calendar(date.fromisoformat(local_day(now, tz)),
                            actor.system.store.users.history(record.user_id),
                            record.doses, now, tz)


def show_help(actor, message: ShowHelp):
    actor.reply(message.reply_token, texts.HELP, quick_reply=texts.UNDER_HELP)


# -- following -----------------------------------------------------------------------------------
def greet(actor, message: Greet):
    resumed = actor.record.applied_to_all(Resume(), actor.now(), actor.rules, actor.zone)
    said = texts.greeting(actor.settings.snooze_interval_seconds)
    if resumed != actor.record:  # back after a block: resume
        actor.save_and_reply(resumed, message.reply_token, said, quick_reply=texts.UNDER_HELP)
    else:
        actor.reply(message.reply_token, said, quick_reply=texts.UNDER_HELP)


def forget(actor, message: Forget):
    system = actor.system
    watchers, watched = system.watches.forget(actor.user_id)
    system.store.users.forget(actor.user_id)
    actor.replace_record(UserRecord(actor.user_id))
    watching.tell_watch_over(actor, watchers + watched)


HANDLERS = {
    SetTimes: set_times, RemoveTimes: remove_times, RejectTime: reject_time, NameDose: name_dose,
    ChangeSchedule: change_schedule, KeepSchedule: keep_schedule,
    ShowSetting: show_setting, SetZone: set_zone, SetZoneAt: set_zone_at,
    MessageReceived: message_received, TookTapped: took_tapped, Postpone: postpone,
    ShowHistory: show_history, ShowHelp: show_help, Greet: greet, Forget: forget,
    TimePicked: time_picked,
}
