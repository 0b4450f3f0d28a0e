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
the mark are kept PUSH_RECORD_TTL."""
import enum
from typing import List, NamedTuple, Optional, Sequence

import orjson

from domain.user import UserRecord
from storage import keys, lua, records
from storage.outage import outage_aware
from storage.processes import _ms

PUSH_RECORD_TTL = 3 * 24 * 3600
_BATCH_CLAIM = b"b:"   # a claim's value names its batch: b:<batch id>


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
    def __init__(self, client, pipeliner, outage, processes, token: str):
        self.redis = client
        self.outage = outage
        self.token = token              # this process, in the leases it holds
        self._pipeliner = pipeliner
        self._processes = processes
        self._claim_asks = lua.register(client, "claim_asks.lua")
        self._take_batch = lua.register(client, "take_batch.lua")

    @outage_aware
    def claim(self, batch_id: str, key: AskKey, asked: Sequence[UserRecord],
              lease_seconds: float) -> List[Claim]:
        """Claim the ask `key` for each record's user, for this batch, where the record is
        still the version decided on. A first ask's claim also saves each record won
        (holding its round as started)."""
        attempt, round_at = key.attempt, key.round_at
        user_keys, user_args = [], []
        for record in asked:
            user_id = record.user_id
            user_keys += [keys.user(user_id), keys.ask_claim(user_id, round_at, attempt)]
            user_args += [user_id, record.version,
                          records.encode(record, record.version + 1) if attempt == 0 else ""]
        answers = self._claim_asks(
            keys=[keys.batch(batch_id), keys.batch_lease(batch_id), *user_keys],
            args=[_BATCH_CLAIM + batch_id.encode(), _ms(lease_seconds), PUSH_RECORD_TTL,
                  attempt, int(round_at), self.token, key.name or "", *user_args])
        claims = []
        for record, (status, detail) in zip(asked, answers):
            status = _STATUSES[status]
            if status is ClaimStatus.CLAIMED:
                claims.append(Claim(status, batch_id=_batch_named(detail)))
            elif status is ClaimStatus.WON and attempt == 0:
                claims.append(Claim(status, record=record._replace(version=record.version + 1)))
            elif status is ClaimStatus.WON:
                claims.append(Claim(status, record=record))
            else:
                claims.append(_PLAIN_CLAIMS[status])
        return claims

    @outage_aware
    def take(self, batch_id: str, lease_seconds: float) -> Taken:
        """Take the lease on an earlier batch to resend it: unless LINE took it, it expired,
        or a live process holds it (this one too: its send is under way, or failed and will
        drop the lease)."""
        holder = self.redis.get(keys.batch_lease(batch_id))
        dead = b""
        if holder is not None and holder.decode() != self.token:
            if not self._processes.alive(holder.decode()):
                dead = holder  # its process stopped: its lease holds nothing
        status, detail = self._take_batch(
            keys=[keys.batch(batch_id), keys.batch_lease(batch_id), keys.batch_sent(batch_id)],
            args=[_ms(lease_seconds), self.token, dead])
        status = TakeStatus(status.decode())
        if status is TakeStatus.TAKEN:
            return Taken(status, body=orjson.loads(detail))
        if status is TakeStatus.HELD:
            return Taken(status, lease_left=int(detail) / 1000.0)
        return Taken(status)

    @outage_aware
    def finish(self, batch_id: str, shown: bool) -> None:
        """LINE took the batch: mark it, so nobody sends it again (its lease just runs out).
        LINE did not: drop the lease, so the next try resends it at once. Either way one
        command, sharing a round trip with the saves made at the same moment."""
        if shown:
            self._pipeliner.call(lambda pipe: pipe.set(keys.batch_sent(batch_id), 1,
                                                        ex=PUSH_RECORD_TTL))
        else:
            self._pipeliner.call(lambda pipe: pipe.delete(keys.batch_lease(batch_id)))


def _batch_named(claim: bytes) -> str:
    return claim[len(_BATCH_CLAIM):].decode()
