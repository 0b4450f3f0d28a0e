"""Ask batches: the exactly-once protocol for asks (docs/design.md, Claim, send, save and
Takeover, draws it as sequences).

A batch is one request to LINE (a multicast, or a push for one user) asking the same ask of
rounds that start at the same moment. Before it is sent it is claimed (scripts/claim_asks.lua):
each user's ask is tied to the batch (keys.ask_claim holds "b:<batch id>") if their record is
still the version decided on, and the batch's body (recipients, attempt, round) and this
process's lease on it are stored. The batch id is the request's X-Line-Retry-Key: whoever
later finds an ask claimed by a batch never marked sent takes the batch over
(scripts/take_batch.lua) and resends that very request, and LINE answers 409 if it took it
the first time. So a user is never asked the same ask under two keys.

Keys: the body (keys.batch), the lease (keys.batch_lease, "<token>" of the sending process,
expiring after PUSH_LEASE_SECONDS), the sent mark (keys.batch_sent); the body, the claims and
the mark are kept PUSH_RECORD_TTL. A batch's users are of one shard, and its keys are in that
shard's slot.

On Redis Cluster a write a master acknowledged is lost if the master dies before its replica
has it and the replica takes over. A claim lost so would let the next try claim the same ask
afresh, under another retry key: shown twice. So a claim, and a takeover before its resend,
is followed on the same connection by WAIT for the replica (REPLICA_WAIT_MS); what the
replica has not acknowledged by then is not sent yet (the batch's lease is dropped, and the
next try, a moment later, takes the batch over and resends it with its key). A master that
has no replica connected is not waited for: no replica could take over without the claim
(WAIT would only spend its whole timeout); that is looked at again at most once a second."""
import enum
import time
from typing import List, NamedTuple, Optional, Sequence

import orjson

from domain.user import UserRecord
from storage import lua, records
from storage.outage import outage_aware
from storage.processes import _ms

PUSH_RECORD_TTL = 3 * 24 * 3600
_BATCH_CLAIM = b"b:"   # a claim's value names its batch: b:<batch id>
REPLICA_WAIT_MS = 200  # Redis Cluster: how long a claim waits for the replica to have it
UNREPLICATED_WAIT = 0.5  # seconds before an ask whose claim the replica lacked is looked at
ALONE_FOR = 1.0        # seconds a master found without a replica is taken to have none


class AskKey(NamedTuple):
    """The one ask a batch sends: attempt `attempt` (0 = the first) of rounds that start at
    `round_at`, of doses named `name` (None: no name). Asks of one key share one text."""
    attempt: int
    round_at: float
    name: Optional[str] = None


class ClaimStatus(enum.Enum):
    """What a batch claim says about one user's ask."""
    WON = "won"            # claimed for this batch: send it
    CONFLICT = "conflict"  # the record changed since it was read: decide again
    CLAIMED = "claimed"    # an earlier batch holds it: see what became of that batch
    UNHANDLED = "unhandled"  # a message of the user's is still to be handled (it may answer
                             # the round): nothing claimed; ask again in a moment


class Claim(NamedTuple):
    status: ClaimStatus
    batch_id: Optional[str] = None         # CLAIMED: the batch that holds the ask
    record: Optional[UserRecord] = None    # WON: the record as it is stored now (a first
                                           # ask's claim saves the round started)


class TakeStatus(enum.Enum):
    """What taking an earlier batch over (to resend it) says."""
    TAKEN = "taken"  # this process holds it now: resend its body
    SENT = "sent"    # LINE took it
    HELD = "held"    # a live sender holds it
    GONE = "gone"    # it expired with its claims: the next try claims afresh


class Taken(NamedTuple):
    status: TakeStatus
    body: Optional[dict] = None     # TAKEN: {"to": [...], "attempt": k, "round": at,
                                    # "name": the doses' name, when they have one}
    lease_left: float = 0.0         # HELD: seconds left on the sender's lease


_STATUSES = {status.value.encode(): status for status in ClaimStatus}
_PLAIN_CLAIMS = {status: Claim(status) for status in ClaimStatus}  # a burst reads thousands


class AskBatches:
    def __init__(self, client, pipeliner, outage, processes, token: str, layout, nodes):
        self.redis = client
        self.outage = outage
        self.token = token              # this process, in the leases it holds
        self.keys = layout
        self._nodes = nodes
        self._pipeliner = pipeliner
        self._processes = processes
        self._alone = {}                # master -> when it was found without a replica
        self._claim_asks = lua.register(client, "claim_asks.lua")
        self._take_batch = lua.register(client, "take_batch.lua")

    @outage_aware
    def claim(self, batch_id: str, key: AskKey, asked: Sequence[UserRecord],
              lease_seconds: float, unhandled_since: float) -> List[Claim]:
        """Claim the ask `key` for each record's user (all of one shard), for this batch,
        where the record is still the version decided on and no message of the user's taken
        in at or after `unhandled_since` (epoch s) is still to be handled. A first ask's
        claim also saves each record won (holding its round as started)."""
        attempt, round_at, layout = key.attempt, key.round_at, self.keys
        shard = layout.shard_of(asked[0].user_id)
        user_keys, user_args = [], []
        for record in asked:
            user_id = record.user_id
            user_keys += [layout.user(user_id), layout.ask_claim(user_id, round_at, attempt),
                          layout.unhandled(user_id)]
            user_args += [user_id, record.version,
                          records.encode(record, record.version + 1) if attempt == 0 else ""]
        script_keys = [layout.batch(shard, batch_id), layout.batch_lease(shard, batch_id),
                       *user_keys]
        script_args = [_BATCH_CLAIM + batch_id.encode(), _ms(lease_seconds), PUSH_RECORD_TTL,
                       attempt, int(round_at), self.token, key.name or "",
                       repr(unhandled_since), *user_args]
        if not layout.cluster:
            answers = self._claim_asks(keys=script_keys, args=script_args)
            replicated = True
        else:
            answers, replicated = self._replicated(script_keys[0], lambda pipe: self._claim_asks(
                keys=script_keys, args=script_args, client=pipe))
        if not replicated:  # not sent yet: the next try takes the batch over, replicated
            self._drop_lease(shard, batch_id)
        claims = []
        for record, (status, detail) in zip(asked, answers):
            status = _STATUSES[status]
            if status is ClaimStatus.WON and not replicated:
                claims.append(Claim(ClaimStatus.CLAIMED, batch_id=batch_id))
            elif status is ClaimStatus.CLAIMED:
                claims.append(Claim(status, batch_id=_batch_named(detail)))
            elif status is ClaimStatus.WON and attempt == 0:
                claims.append(Claim(status, record=record._replace(version=record.version + 1)))
            elif status is ClaimStatus.WON:
                claims.append(Claim(status, record=record))
            else:
                claims.append(_PLAIN_CLAIMS[status])
        return claims

    @outage_aware
    def take(self, batch_id: str, lease_seconds: float, shard: int = 0) -> Taken:
        """Take the lease on an earlier batch (of `shard`) to resend it: unless LINE took
        it, it expired, or a live process holds it (this one too: its send is under way, or
        failed and will drop the lease)."""
        layout = self.keys
        lease = layout.batch_lease(shard, batch_id)
        holder = self.redis.get(lease)
        dead = b""
        if holder is not None and holder.decode() != self.token:
            if not self._processes.alive(holder.decode()):
                dead = holder  # its process stopped: its lease holds nothing
        script_keys = [layout.batch(shard, batch_id), lease, layout.batch_sent(shard, batch_id)]
        script_args = [_ms(lease_seconds), self.token, dead]
        if not layout.cluster:
            status, detail = self._take_batch(keys=script_keys, args=script_args)
            replicated = True
        else:
            (status, detail), replicated = self._replicated(
                script_keys[0], lambda pipe: self._take_batch(keys=script_keys,
                                                              args=script_args, client=pipe))
        status = TakeStatus(status.decode())
        if status is TakeStatus.TAKEN and not replicated:
            self._drop_lease(shard, batch_id)
            return Taken(TakeStatus.HELD, lease_left=UNREPLICATED_WAIT)
        if status is TakeStatus.TAKEN:
            return Taken(status, body=orjson.loads(detail))
        if status is TakeStatus.HELD:
            return Taken(status, lease_left=int(detail) / 1000.0)
        return Taken(status)

    @outage_aware
    def finish(self, batch_id: str, shown: bool, shard: int = 0) -> None:
        """LINE took the batch: mark it, so nobody sends it again (its lease just runs out).
        LINE did not: drop the lease, so the next try resends it at once. Either way one
        command, sharing a round trip with the saves made at the same moment."""
        if shown:
            sent = self.keys.batch_sent(shard, batch_id)
            self._pipeliner.call(lambda pipe: pipe.set(sent, 1, ex=PUSH_RECORD_TTL), sent)
        else:
            self._drop_lease(shard, batch_id)

    def _drop_lease(self, shard, batch_id):
        lease = self.keys.batch_lease(shard, batch_id)
        self._pipeliner.call(lambda pipe: pipe.delete(lease), lease)

    def _replicated(self, key, add):
        """(the answer of the script `add` queues, whether the shard's replica has what it
        wrote): the script, then WAIT on the same connection of the master that serves
        `key`."""
        client, node = self._nodes.client_for(key), self._nodes.node_name(key)
        alone_since = self._alone.get(node)
        if alone_since is not None and time.monotonic() - alone_since < ALONE_FOR:
            [answer] = self._pipeliner.execute(client, node, [add])
            if isinstance(answer, Exception):
                raise answer
            return answer, True
        answer, acked = self._pipeliner.execute(
            client, node, [add, lambda pipe: pipe.execute_command("WAIT", 1, REPLICA_WAIT_MS)],
            rerun_all=True)
        for reply in (answer, acked):
            if isinstance(reply, Exception):
                raise reply
        if acked >= 1:
            self._alone.pop(node, None)
            return answer, True
        if client.execute_command("ROLE")[2]:    # a replica is connected but lacks it
            return answer, False
        self._alone[node] = time.monotonic()     # none to wait for
        return answer, True


def _batch_named(claim: bytes) -> str:
    return claim[len(_BATCH_CLAIM):].decode()
