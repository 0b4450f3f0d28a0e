"""Users due together whose wake-up is a plain ask (domain.wakeup) are asked together, without
an actor each: one claim, one multicast and one compare-and-set call for up to 500 users, and
no greenlet or mailbox per user.

Anything else goes to the user's actor, as does every user this path cannot finish: one whose
actor is awake (it has a message in hand), one whose record changed meanwhile, one whose ask
another process holds, and everyone when Redis fails. The actor decides again on what Redis
holds, and the claims make that safe: an ask LINE took is found sent, never asked again."""
import logging

import gevent

from actors.asks import ROUND_EVENT, AskResult
from actors.saving import save_decided
from domain.rounds import Cancel, decide
from domain.wakeup import plain_ask
from domain.wallclock import zone
from logsafe import short_id
from storage.store import Conflict, StorageUnavailable

log = logging.getLogger(__name__)


class AskTogether:
    def __init__(self, system):
        self._system = system
        self._running = set()   # greenlets asking a group now

    def wake(self, due) -> None:
        """`due`: (user id, record or None) pairs the scheduler found due, each holding one of
        its waking slots, which goes back once the user is handled (or to their actor)."""
        system = self._system
        now, default_zone = system.timer.now(), system.settings.timezone
        reasks_allowed = not system.outbox.quota_exhausted
        groups = {}
        for user_id, record in due:
            plan = None
            if record is not None and user_id not in system.awake:
                try:
                    plan = plain_ask(record, now, system.rules,
                                     zone(record.tz or default_zone), reasks_allowed)
                except Exception:  # a record the domain cannot decide on: its actor fails
                    plan = None    # alone (and logs it), the others go on
            if plan is None:
                system.wake(user_id, record)
            else:
                groups.setdefault((plan.attempt, plan.started.at), []).append(plan)
        for (attempt, _), plans in groups.items():
            system.activity.begin()  # a graceful stop waits for the group's sends
            greenlet = gevent.spawn(self._ask_group, attempt, plans)
            self._running.add(greenlet)
            greenlet.link(self._running.discard)

    def stop(self) -> None:
        for greenlet in list(self._running):
            greenlet.kill(block=False)

    def _ask_group(self, attempt, plans):
        system = self._system
        left = {plan.record.user_id for plan in plans}   # users still this greenlet's
        try:
            self._ask_and_save(attempt, plans, left)
        except Exception as exc:
            if not isinstance(exc, StorageUnavailable):  # the store logs outages, once
                log.error("asking %d users together failed (%s); their actors take over",
                          len(left), type(exc).__name__, exc_info=exc)
            for user_id in list(left):
                left.discard(user_id)
                system.wake(user_id, None)
        finally:
            for _ in left:  # killed: they stay in the due index, a lease ahead
                system.scheduler.due_handled()
            system.activity.end()

    def _ask_and_save(self, attempt, plans, left):
        system, rules = self._system, self._system.rules
        outcomes = system.asks.ask_together([(plan.record, plan.started) for plan in plans],
                                            attempt)
        now, default_zone = system.timer.now(), system.settings.timezone
        to_save, saved, to_actor, not_delivered = [], [], [], 0
        for plan, outcome in zip(plans, outcomes):
            record = plan.record
            if isinstance(outcome, Exception) or outcome.result is AskResult.HELD:
                # Conflict, Redis, or another sender's ask: the actor decides again.
                to_actor.append((record.user_id, None if isinstance(outcome, Exception)
                                 else record))
                continue
            tz = zone(record.tz or default_zone)
            if outcome.result is AskResult.UNREACHABLE:
                record.apply_to_all(Cancel(), now, rules, tz)
                log.warning("%s cannot receive pushes; reminders paused",
                            short_id(record.user_id))
                to_save.append(record)
                continue
            not_delivered += outcome.result is AskResult.NOT_DELIVERED
            asked, effects = decide(plan.started, ROUND_EVENT[outcome.result], now, rules, tz)
            record.replace_round(plan.round, asked)
            if not effects:
                to_save.append(record)
                continue
            try:  # the round ended (an ask LINE never took, at the day's end): alone
                save_decided(system, record, effects)
            except Conflict:
                to_actor.append((record.user_id, None))
            else:
                saved.append(record)
        if not_delivered:
            log.warning("ask %d not delivered to %d users; trying again later", attempt,
                        not_delivered)
        conflicts = {record.user_id for record in system.store.save_many(to_save)}
        saved += [record for record in to_save if record.user_id not in conflicts]
        to_actor += [(user_id, None) for user_id in conflicts]
        for user_id, record in to_actor:
            left.discard(user_id)
            system.wake(user_id, record)
        dues = [record.due for record in saved if record.due is not None]
        if dues:  # this process's scheduler hears of the earliest due time set here
            system.scheduler.schedule(saved[0].user_id, min(dues))
        for record in saved:
            left.discard(record.user_id)
            system.scheduler.due_handled()
