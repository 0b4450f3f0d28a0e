"""Users' records in Redis: one string per user (keys.user), JSON with its version first, as
storage/records.py writes it, changed only by compare-and-set on that version.

A save writes, in one atomic call (scripts/save_records.lua), the record, the changes to the
user's history (記録) that its new state brings, the user's place in the due index and, when
it answers a webhook event, the reply owed for it (storage/events.py); each user of a batch on
their own. Saves and loads made by many greenlets at the same moment share one round trip
(storage/pipelining.py). On Redis Cluster a batch is saved with one call per shard (a
script's keys lie in one slot: a user's event is in their shard), all in the same round
trip."""
import logging
from typing import Iterator, List, Mapping, NamedTuple, Optional, Sequence

from domain.history import TallyChange
from domain.user import UserRecord
from logsafe import short_id
from storage import history, lua, records, upgrade
from storage.events import EVENT_DEDUPE_TTL
from storage.outage import outage_aware

log = logging.getLogger("storage.store")


class Conflict(Exception):
    """The stored record changed since it was loaded (another process, or a lost write)."""


class Answering(NamedTuple):
    """The webhook event a save answers: its id, and its key's value once saved (the reply
    owed: WebhookEvents.applied)."""
    event_id: str
    value: bytes


class Saved(NamedTuple):
    records: List[UserRecord]   # as saved, each with its next version
    conflicts: List[str]        # user ids whose record changed meanwhile: nothing written


class Users:
    def __init__(self, client, pipeliner, outage, layout, nodes,
                 legacy: upgrade.Legacy = upgrade.DEFAULTS):
        self.redis = client
        self.outage = outage
        self.keys = layout
        self._nodes = nodes
        self._pipeliner = pipeliner
        self._legacy = legacy
        self._save_records = lua.register(client, "save_records.lua")

    @outage_aware
    def load(self, user_id: str) -> Optional[UserRecord]:
        key = self.keys.user(user_id)
        raw = self._pipeliner.call(lambda pipe: pipe.get(key), key)
        return None if raw is None else self.decode(user_id, raw)

    def decode(self, user_id: str, raw: bytes) -> UserRecord:
        return records.decode(user_id, raw, self._legacy)

    @outage_aware
    def load_many(self, user_ids: Sequence[str]) -> List[Optional[UserRecord]]:
        """Each user's record (None where there is none, or where it cannot be read: that
        is logged, and the user's own `load` fails alone), one MGET (on Redis Cluster, one
        per shard)."""
        if not user_ids:
            return []
        loaded = []
        for user_id, raw in zip(user_ids, self._mget(user_ids)):
            try:
                loaded.append(None if raw is None else self.decode(user_id, raw))
            except Exception as exc:  # one broken record must not stop the others
                log.error("the record of %s cannot be read (%s)", short_id(user_id),
                          type(exc).__name__)
                loaded.append(None)
        return loaded

    def _mget(self, user_ids):
        user_key = self.keys.user
        if not self.keys.cluster:
            return self.redis.mget([user_key(u) for u in user_ids])
        by_shard = self.keys.by_shard(user_ids)
        if len(by_shard) == 1:
            return self.redis.mget([user_key(u) for u in user_ids])
        found = {}
        for shard_ids, raws in zip(by_shard.values(), self._pipeliner.call_many(
                [(lambda pipe, ids=ids: pipe.mget([user_key(u) for u in ids]), user_key(ids[0]))
                 for ids in by_shard.values()])):
            found.update(zip(shard_ids, raws))
        return [found[u] for u in user_ids]

    @outage_aware
    def save(self, record: UserRecord, changes: Sequence[TallyChange] = (),
             answering: Optional[Answering] = None) -> UserRecord:
        """`record` as saved (its next version), with the history changes its new state
        brings and the event it answers. Raises Conflict when the stored record changed since
        `record` was read."""
        saved = self.save_many([record], {record.user_id: changes},
                               {record.user_id: answering} if answering else None)
        if saved.conflicts:
            raise Conflict(record.user_id)
        return saved.records[0]

    @outage_aware
    def save_many(self, batch: Sequence[UserRecord],
                  changes: Mapping[str, Sequence[TallyChange]] = None,
                  answering: Mapping[str, Answering] = None) -> Saved:
        """`save` for many records in one call, each on its own compare-and-set with its
        user's history changes (`changes` by user id) and the event it answers (by user id)."""
        if not batch:
            return Saved([], [])
        changes, answering = changes or {}, answering or {}
        layout = self.keys
        if layout.cluster:
            groups = list(layout.by_shard(batch, lambda record: record.user_id).values())
        else:
            groups = [batch]
        calls = [self._save_call(group, changes, answering) for group in groups]
        if len(calls) == 1:
            answers = self._pipeliner.call(*calls[0])
            ordered = batch
        else:
            answers = [ok for group_answers in self._pipeliner.call_many(calls)
                       for ok in group_answers]
            ordered = [record for group in groups for record in group]
        saved, conflicts = [], []
        for record, ok in zip(ordered, answers):
            if ok:
                saved.append(record._replace(version=record.version + 1))
            else:
                conflicts.append(record.user_id)
        return Saved(saved, conflicts)

    def _save_call(self, group, changes, answering):
        """(add, key) for the pipeliner: one call of the save script for `group` (users of
        one shard), each user's keys the record, the history, the shard's due index and
        the event answered (the record's key again when none)."""
        layout = self.keys
        record_keys, args = [], []
        for record in group:
            user_id, due = record.user_id, record.due
            event = answering.get(user_id)
            record_keys += [layout.user(user_id), layout.history(user_id),
                            layout.due(layout.shard_of(user_id)),
                            layout.webhook_event(event.event_id, user_id) if event
                            else layout.user(user_id)]
            args += [record.version, records.encode(record, record.version + 1), user_id,
                     "" if due is None else repr(due), event.value if event else ""]
            args += history.changes_args(changes.get(user_id, ()))
        args.append(EVENT_DEDUPE_TTL)
        return (lambda pipe: self._save_records(keys=record_keys, args=args, client=pipe),
                record_keys[0])

    @outage_aware
    def delete(self, user_id: str, answering: Optional[Answering] = None) -> None:
        """The user's times and rounds; their history (記録) stays."""
        self._remove(user_id, [self.keys.user(user_id)], answering)

    @outage_aware
    def forget(self, user_id: str, answering: Optional[Answering] = None) -> None:
        """Everything stored about the user's reminders and history."""
        layout = self.keys
        self._remove(user_id, [layout.user(user_id), layout.history(user_id)], answering)

    def _remove(self, user_id, removed, answering):
        """`removed` (keys in the user's slot) deleted, the user out of the due index, and
        the event answered given its reply owed: in one transaction, in one slot."""
        layout = self.keys
        pipe = self._nodes.client_for(removed[0]).pipeline(transaction=True)  # one slot
        pipe.delete(*removed)
        pipe.zrem(layout.due(layout.shard_of(user_id)), user_id)
        if answering:
            pipe.set(layout.webhook_event(answering.event_id, user_id), answering.value,
                     ex=EVENT_DEDUPE_TTL)
        pipe.execute()

    @outage_aware
    def history(self, user_id: str):
        """The user's history (記録): {date: DayTally}."""
        return history.decode(self.redis.get(self.keys.history(user_id)) or b"")

    def scan(self, batch: int = 2000) -> Iterator[List[UserRecord]]:
        """Every stored record, `batch` keys at a time (one Redis: records written before
        the due index existed are only there)."""
        prefix = len(self.keys.user(""))
        for found in scan_keys(self.redis, self.keys.user_pattern, batch):
            yield [self.decode(key[prefix:].decode(), raw)
                   for key, raw in zip(found, self.redis.mget(found)) if raw is not None]


def scan_keys(client, pattern: str, batch: int) -> Iterator[List[bytes]]:
    cursor = 0
    while True:
        cursor, found = client.scan(cursor, match=pattern, count=batch)
        if found:
            yield found
        if cursor == 0:
            return
