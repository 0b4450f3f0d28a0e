"""Family watch (見守り), handled by the user's actor (actors/user.py): a code for someone to
watch this user, a code redeemed, watches ended, and the alerts owed to watchers told.

An alert waits in the user's record until each of its watchers has been told; a claim per
watcher (storage/alert_claims.py) and a retry key derived from the alert make a second telling,
by a restart or another process, one LINE answers 409."""
from actors.messages import EndWatches, RedeemWatchCode, RequestWatchCode
from actors.notices import alert_retry_key
from chat import texts
from domain import watch
from domain.asking import look_again_at
from domain.rounds import DUE_TOLERANCE
from outbox.line import PushResult
from storage.watches import Redeem

_REFUSED_CODE = {
    Redeem.UNKNOWN: texts.CODE_NOT_FOUND, Redeem.OWN: texts.OWN_CODE,
    Redeem.FULL: texts.TOO_MANY_WATCHERS, Redeem.LOCKED: texts.TRY_LATER,
}
_ALERT_TEXTS = {watch.AlertKind.MISSED: texts.missed_alert,
                watch.AlertKind.TAKEN: texts.taken_alert}


def request_watch_code(actor, message: RequestWatchCode):
    code = actor.system.watches.new_code(actor.user_id)
    actor.reply(message.reply_token, texts.watch_code(code))


def redeem_watch_code(actor, message: RedeemWatchCode):
    redeemed = actor.system.watches.redeem(message.code, actor.user_id, actor.now())
    notices = actor.system.notices
    if redeemed.status is Redeem.ALREADY:   # nobody is told: nothing changed
        actor.reply(message.reply_token, texts.already_watching(notices.name_of(redeemed.owner)))
        return
    if redeemed.status is not Redeem.STARTED:
        actor.reply(message.reply_token, _REFUSED_CODE[redeemed.status])
        return
    actor.reply(message.reply_token, texts.watching_started(notices.name_of(redeemed.owner)))
    notices.notify_soon([redeemed.owner], texts.watched_by(notices.name_of(actor.user_id)))


def end_watches(actor, message: EndWatches):
    watches = actor.system.watches
    others = watches.end_watchers_of(actor.user_id) + watches.end_watching_by(actor.user_id)
    if not others:
        actor.reply(message.reply_token, texts.NO_WATCH)
        return
    actor.reply(message.reply_token, texts.WATCH_ENDED)
    tell_watch_over(actor, others)


def tell_watch_over(actor, others):
    if others:
        notices = actor.system.notices
        notices.notify_soon(sorted(set(others)), texts.watch_over(notices.name_of(actor.user_id)))


def send_due_alerts(actor, now):
    """Tell each watcher what a due alert owes them. A watcher another process is telling
    now is left to it (looked at again in a moment, nothing written); what LINE could not
    take waits an interval."""
    record = actor.record
    if not any(alert.due <= now + DUE_TOLERANCE for alert in record.alerts):
        return
    doses, kept, held = record.doses, [], None
    name = actor.system.notices.name_of(actor.user_id)
    for alert in record.alerts:
        if alert.due > now + DUE_TOLERANCE:
            kept.append(alert)
            continue
        told, failed, elsewhere, wait = _tell(actor, alert, name)
        for watcher in told:
            doses = watch.told(doses, alert, watcher)
        if wait is not None:
            held = wait if held is None else min(held, wait)
        if failed:
            kept.append(alert._replace(to=tuple(failed) + tuple(elsewhere),
                                       due=actor.now() + actor.rules.snooze_interval))
        elif elsewhere:
            kept.append(alert._replace(to=tuple(elsewhere)))
    if held is not None and doses == record.doses and len(kept) == len(record.alerts):
        # Only held elsewhere: theirs to finish; look again without writing anything.
        look_again = look_again_at(now, held)
        actor.replace_record(record._replace(alerts=tuple(
            alert._replace(due=max(alert.due, look_again)) for alert in record.alerts)),
            saved=False)
        return
    actor.save(record._replace(doses=doses, alerts=tuple(kept)))


def _tell(actor, alert, name):
    """(watchers shown it, watchers LINE could not take it for, watchers another process is
    telling, the shortest time they still hold it or None)."""
    system = actor.system
    dose = next((dose for dose in actor.record.doses if dose.time == (alert.hour, alert.minute)),
                None)
    text = _ALERT_TEXTS[alert.kind](name, alert.hour, alert.minute, dose and dose.name)
    told, failed, elsewhere, held = [], [], [], None
    for watcher in alert.to:
        wait = system.store.alert_claims.claim(actor.user_id, alert.id, watcher,
                                               actor.settings.push_lease_seconds)
        if wait:
            elsewhere.append(watcher)
            held = wait if held is None else min(held, wait)
            continue
        result = system.notices.alert(watcher, text,
                                      alert_retry_key(actor.user_id, alert.id, watcher))
        if result is PushResult.FAILED:
            failed.append(watcher)
        elif result.shown:
            told.append(watcher)
    return told, failed, elsewhere, held


HANDLERS = {
    RequestWatchCode: request_watch_code, RedeemWatchCode: redeem_watch_code,
    EndWatches: end_watches,
}
