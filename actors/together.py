"""Users due together whose wake-up is plain (domain.wakeup) are handled together, without an
actor each: for an ask, one claim, one multicast and one compare-and-set call for up to 500
users; for a round's end (the last re-ask went unanswered), one look-up of their watchers and
one compare-and-set call with their history (記録) changes. No greenlet or mailbox per user.

Anything else goes to the user's actor, as does every user this path cannot finish: one whose
actor is awake (it has a message in hand), one whose record changed meanwhile, one whose ask
another process holds, and everyone when Redis fails. The actor decides again on what Redis
holds, and the claims make that safe: an ask LINE took is found sent, never asked again."""
import logging

import gevent

from actors.saving import log_not_asked, log_paused
from domain.asking import AskResult, after_ask
from domain.ending import settle, tells_watchers
from domain.wakeup import PlainEnd, plain_wakeup
from domain.wallclock import zone
from storage.outage import StorageUnavailable

log = logging.getLogger(__name__)


class DueTogether:
    def __init__(self, system):
        self._system = system
        self._running = set()   # greenlets handling a group now

    def wake(self, due) -> None:
        """`due`: (user id, record or None) pairs the scheduler found due, each holding one of
        its waking slots, which goes back once the user is handled (or to their actor)."""
        system = self._system
        now, default_zone = system.timer.now(), system.settings.timezone
        reasks_allowed = not system.outbox.quota_exhausted
        asks, ends = {}, []
        for user_id, record in due:
            plan = None
            if record is not None and user_id not in system.awake:
                try:
                    plan = plain_wakeup(record, now, system.rules,
                                        zone(record.tz or default_zone), reasks_allowed)
                except Exception:  # a record the domain cannot decide on: its actor fails
                    plan = None    # alone (and logs it), the others go on
            if plan is None:
                system.wake(user_id, record)
                continue
            if system.failures:  # decided on: no longer failing (UserActor.on_failure)
                system.failures.pop(user_id, None)
            if type(plan) is PlainEnd:
                ends.append(plan)
            else:
                # One ask, one text: the same attempt of rounds started together, one name.
                key = (plan.attempt, plan.started.at, plan.started.name)
                asks.setdefault(key, []).append(plan)
        for (attempt, _, _), plans in asks.items():
            self._spawn(self._ask_and_save, plans, attempt)
        if ends:
            self._spawn(self._end_and_save, ends)

    def stop(self) -> None:
        for greenlet in list(self._running):
            greenlet.kill(block=False)

    def _spawn(self, work, plans, *args):
        self._system.activity.begin()  # a graceful stop waits for the group's sends
        greenlet = gevent.spawn(self._run, work, plans, *args)
        self._running.add(greenlet)
        greenlet.link(self._running.discard)

    def _run(self, work, plans, *args):
        system = self._system
        left = {plan.record.user_id for plan in plans}   # users still this greenlet's
        try:
            work(plans, left, *args)
        except Exception as exc:
            if not isinstance(exc, StorageUnavailable):  # the store logs outages, once
                log.error("handling %d users due together failed (%s); their actors take "
                          "over", len(left), type(exc).__name__, exc_info=exc)
            for user_id in list(left):
                left.discard(user_id)
                system.wake(user_id, None)
        finally:
            for _ in left:  # killed: they stay in the due index, a lease ahead
                system.scheduler.due_handled()
            system.activity.end()

    def _ask_and_save(self, plans, left, attempt):
        system, rules = self._system, self._system.rules
        # Each record holds its dose's round started: a first ask's claim saves it so.
        asked = system.asks.ask_together(
            [(plan.record.with_dose(plan.dose, plan.started), plan.started) for plan in plans],
            attempt)
        now, default_zone = system.timer.now(), system.settings.timezone
        to_save, ended, to_actor, not_delivered = [], [], [], 0
        for plan, result in zip(plans, asked):
            if isinstance(result, Exception) or result.outcome.result is AskResult.HELD:
                # Conflict, Redis, or another sender's ask: the actor decides again.
                to_actor.append((plan.record.user_id,
                                 None if isinstance(result, Exception) else result.record))
                continue
            result_kind = result.outcome.result
            if result_kind is AskResult.UNREACHABLE:
                log_paused(plan.record.user_id)
            not_delivered += result_kind is AskResult.NOT_DELIVERED
            step = after_ask(result.record, plan.started, result.outcome, now, rules,
                             zone(result.record.tz or default_zone))
            to_save.append(step.record)
            if step.effects:  # the round ended (an ask LINE never took, at the day's end)
                ended.append((step.record, step.effects))
        if not_delivered:
            log.warning("ask %d not delivered to %d users; trying again later", attempt,
                        not_delivered)
        self._save(*self._settle(to_save, ended, now), to_actor, left)

    def _end_and_save(self, plans, left):
        records = [plan.record.with_dose(plan.dose, plan.ended) for plan in plans]
        ended = [(record, plan.effects) for record, plan in zip(records, plans)]
        self._save(*self._settle(records, ended, self._system.timer.now()), [], left)

    def _settle(self, records, ended, now):
        """The records with the alerts their ended rounds owe, and the history changes (by
        user id) those bring: one look-up of the watchers for the whole group."""
        watched = [record.user_id for record, effects in ended if tells_watchers(effects)]
        watchers = self._system.watches.watchers_of_many(watched) if watched else {}
        settled, changes = {}, {}
        for record, effects in ended:
            log_not_asked(record.user_id, effects)
            settled[record.user_id], changes[record.user_id] = settle(
                record, effects, watchers.get(record.user_id, ()), now)
        return [settled.get(record.user_id, record) for record in records], changes

    def _save(self, records, changes, to_actor, left):
        """Save what was decided; whoever changed meanwhile goes to their actor."""
        system = self._system
        saved = system.store.users.save_many(records, changes)
        to_actor += [(user_id, None) for user_id in saved.conflicts]
        for user_id, record in to_actor:
            left.discard(user_id)
            system.wake(user_id, record)
        dues = [record.due for record in saved.records if record.due is not None]
        if dues:  # this process's scheduler hears of the earliest due time set here
            system.scheduler.schedule(min(dues))
        for record in saved.records:
            left.discard(record.user_id)
            system.scheduler.due_handled()
