"""Webhook events on their way from the edge to the users' actors, kept in Redis until they
are handled (storage/events.py).

An event is taken in before the webhook is answered 200: what it says is stored with it, so a
process killed after the 200 loses nothing. The user's actor handles it, saves its effect with
the reply it owes, replies and finishes it. Every few seconds each process looks for events a
stopped process left behind (its heartbeat is gone) and takes them over: one not yet applied
is handled again from what it says; one applied has the reply it owes sent. An event this
process took in and has in hand no more (the answer of its take-in or of its finish was lost
on the way back from Redis) is taken over the same way. On Redis Cluster that look goes
through every shard's inbox."""
import logging
from typing import Optional

import gevent

from actors.messages import FromWebhook, decode, encode
from storage import events
from storage.outage import StorageUnavailable

log = logging.getLogger(__name__)

# How often a process looks for events left behind, and how long an event must have waited
# before it counts as left behind (its holder's heartbeat is gone too, or it is this process,
# which has it in hand no more).
SWEEP_SECONDS = 2.0
LEFT_BEHIND_AFTER_SECONDS = 5.0


class Inbox:
    def __init__(self, system):
        self._system = system
        self._taking_in = set()  # events this process is taking in now (Redis not answered)
        self._in_hand = set()    # events handed to an actor here, not finished yet
        self._finishing = set()  # events handled here whose finish Redis has not answered

    def take_in(self, event_id: Optional[str], user_id: str, message) -> str:
        """Take in the event and hand it to the user's actor; returns what became of it (the
        edge logs it): told, duplicate (handled before), in_hand (a live process has it) or
        taken_over (from a stopped process)."""
        system = self._system
        if not event_id:  # nothing to know it again by: told as it is
            system.tell(user_id, message)
            return "told"
        store, now = system.store.events, system.timer.now()
        if event_id in self._in_hand:
            return "in_hand"
        if event_id in self._finishing:  # handled here: its finish is on its way
            return "duplicate"
        if event_id in self._taking_in:  # an earlier delivery's take-in may yet fail: refused,
            raise StorageUnavailable("this event is being taken in")  # LINE delivers it again
        self._taking_in.add(event_id)
        try:
            taken = store.take_in(event_id, user_id, encode(message), now)
            if taken.status in (events.NEW, events.TAKEN_OVER):
                self._hand_on(event_id, user_id, taken, message)
        finally:
            self._taking_in.discard(event_id)
        if taken.status in (events.DONE, events.HELD):
            return "duplicate" if taken.status == events.DONE else "in_hand"
        return "told" if taken.status == events.NEW else "taken_over"

    def sweep_forever(self) -> None:
        while True:
            gevent.sleep(SWEEP_SECONDS)
            try:
                self.sweep()
            except StorageUnavailable:
                pass  # the store logs the outage
            except Exception as exc:
                log.error("looking for events left behind failed (%s)", type(exc).__name__,
                          exc_info=exc)

    def sweep(self) -> int:
        """Take over the events stopped processes left behind, and this process's own that it
        has in hand no more; how many."""
        store, now = self._system.store.events, self._system.timer.now()
        taken_over = 0
        for event in store.stuck(now - LEFT_BEHIND_AFTER_SECONDS):
            if event.event_id in self._taking_in or event.event_id in self._in_hand or \
                    event.event_id in self._finishing:
                continue  # being taken in, handled (or queued to be) or finished here
            self._taking_in.add(event.event_id)  # a redelivery meanwhile is refused
            try:
                taken = store.take_over(event.event_id, now, event.shard)
                if taken is not None:
                    self._hand_on(event.event_id, taken.held["user"], taken)
                    taken_over += 1
            finally:
                self._taking_in.discard(event.event_id)
        if taken_over:
            log.info("took over %d webhook events left behind", taken_over)
        return taken_over

    def finished(self, event_id: str, user_id: str) -> None:
        """`user_id`'s event was handled here (or its handling failed) and finished."""
        self._in_hand.discard(event_id)
        self._finishing.add(event_id)
        self._system.store.events.finish(event_id, user_id,
                                         lambda: self._finishing.discard(event_id))

    def _hand_on(self, event_id, user_id, taken, message=None) -> None:
        system = self._system
        self._in_hand.add(event_id)
        if taken.held is not None and "reply" in taken.held:
            system.activity.begin()  # a graceful stop waits for it
            gevent.spawn(self._send_owed, event_id, user_id, *taken.held["reply"])
            return
        if taken.held is not None:
            message = decode(taken.held["message"])
        record = taken.record if user_id not in system.awake else None
        system.actor_for(user_id, record).tell(FromWebhook(event_id, message))

    def _send_owed(self, event_id, user_id, reply_token, messages) -> None:
        """The reply a stopped process saved with an event's effect and never sent."""
        system = self._system
        try:
            if reply_token:
                system.outbox.reply(reply_token, messages)
        except Exception as exc:  # the outbox logs what LINE said; the reply is given up
            # (the type alone: what failed around a reply may hold its token)
            log.error("sending a reply owed failed (%s)", type(exc).__name__)
        finally:
            self.finished(event_id, user_id)
            system.activity.end()
