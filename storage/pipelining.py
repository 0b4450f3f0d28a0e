"""Auto-pipelining: commands that many greenlets send in the same moment go to Redis as one
pipeline (one round trip), and each caller still gets its own answer or error.

When 500 users are asked in one multicast, their 500 record saves that follow cost one round
trip instead of 500 (each round trip is ~0.1 ms of redis-py and gevent CPU in this process);
so do the dedupe checks of webhooks arriving together.

The first caller of a quiet moment sends the batch itself, after letting the greenlets that
are ready to run queue their commands behind its own: a command alone costs one round trip
and no extra greenlet (a greenlet of its own and the switches to it and back cost ~0.05 ms
more, measured). Commands that arrive while a batch is on the wire go in the next batch,
sent by a greenlet of its own, so that no caller waits for other callers' batches.

On Redis Cluster each command names its key: the batch goes as one pipeline per master that
serves its keys (storage/nodes.py), all of them on the wire at once."""
import gevent
from gevent.event import AsyncResult
from redis.exceptions import ConnectionError as RedisConnectionError, NoScriptError

from storage.nodes import Nodes


class Pipeliner:
    def __init__(self, client, max_batch: int = 1000, nodes: Nodes = None):
        self._client = client
        self._nodes = nodes or Nodes(client)
        self._max_batch = max_batch
        self._queued = []
        self._flushing = False
        self._loaded = {}   # node -> Lua scripts this client has made sure that Redis knows

    def call(self, add, key=None):
        """`add(pipe)` queues one command on a pipeline (or, when it is alone, runs it on
        the client); it runs with the commands queued alongside it. `key`: a key of the
        command (on Redis Cluster, where it goes). Blocks this greenlet until the answer is
        back."""
        answer = AsyncResult()
        self._queued.append((add, answer, key))
        if not self._flushing:
            self._flushing = True
            self._lead()
        return answer.get()

    def call_many(self, calls):
        """`call` for several (add, key) at once, in the same round trip; their answers in
        order (the first error is raised, once every answer is back)."""
        answers = []
        for add, key in calls:
            answer = AsyncResult()
            self._queued.append((add, answer, key))
            answers.append(answer)
        if not self._flushing:
            self._flushing = True
            self._lead()
        gevent.wait(answers)
        return [answer.get() for answer in answers]

    def send(self, add, key=None, then=None) -> None:
        """`call` (`key` as there) without waiting for the answer, for a command whose
        answer nobody needs (a failure only leaves what it would have written unwritten).
        `then()`, if given, is called once the answer or the error is back (from the hub:
        it must not block)."""
        answer = AsyncResult()
        if then is not None:
            answer.rawlink(lambda _: then())
        self._queued.append((add, answer, key))
        if not self._flushing:
            self._flushing = True
            gevent.spawn(self._flush)

    def _lead(self):
        try:
            gevent.sleep(0)  # the greenlets ready now run first: their commands join this batch
            self._run(self._take())
        finally:
            # Commands queued meanwhile (or left behind when this caller was killed) are
            # sent by a greenlet that belongs to no caller.
            if self._queued:
                gevent.spawn(self._flush)
            else:
                self._flushing = False

    def _flush(self):
        try:
            while self._queued:
                self._run(self._take())
        finally:
            self._flushing = False

    def _take(self):
        batch = self._queued[:self._max_batch]
        del self._queued[:self._max_batch]
        return batch

    def _run(self, batch):
        try:
            self._send(batch)
        except BaseException:
            # The sender was killed with the batch on the wire: nobody waits forever.
            for _, answer, _ in batch:
                if not answer.ready():
                    answer.set_exception(RedisConnectionError("the batch was cut short"))
            raise

    def _send(self, batch):
        nodes = self._nodes
        if not nodes.cluster:
            self._send_to(self._client, "", batch)
            return
        try:
            by_node = {}
            for item in batch:
                by_node.setdefault(nodes.node_name(item[2]), []).append(item)
        except Exception as exc:  # no slot map: nobody can be served now
            for _, answer, _ in batch:
                answer.set_exception(exc)
            return
        groups = list(by_node.values())
        for group in groups[1:]:  # every master's pipeline on the wire at once
            gevent.spawn(self._send_to_node, group)
        self._send_to_node(groups[0])

    def _send_to_node(self, group):
        try:
            client = self._nodes.client_for(group[0][2])
            name = self._nodes.node_name(group[0][2])
        except Exception as exc:
            for _, answer, _ in group:
                answer.set_exception(exc)
            return
        self._send_to(client, name, group)

    def _send_to(self, client, node, batch):
        if len(batch) == 1:  # alone: no pipeline (redis-py checks a pipeline's scripts first)
            add, answer, _ = batch[0]
            try:
                answer.set(add(client))
            except Exception as exc:
                answer.set_exception(exc)
            return
        try:
            replies = self.execute(client, node, [add for add, _, _ in batch])
        except Exception as exc:  # the connection failed: every caller in the batch hears it
            for _, answer, _ in batch:
                answer.set_exception(exc)
            return
        for (_, answer, _), reply in zip(batch, replies):
            if isinstance(reply, Exception):
                answer.set_exception(reply)
            else:
                answer.set(reply)

    def execute(self, client, node, adds, rerun_all=False):
        """The replies of `adds` (each queues commands on a pipeline) on `client` (the one
        Redis, or the master `node`), in one round trip. redis-py makes sure of a
        pipeline's Lua scripts with a SCRIPT EXISTS round trip before each pipeline; scripts
        this client has run on that node before are sent as they are, and should Redis have
        forgotten them (a restart, a failover), the commands it refused go once more, after
        that check (`rerun_all`: all of them, as a WAIT must follow the write it waits for
        on its connection)."""
        pipe = client.pipeline(transaction=False)
        for add in adds:
            add(pipe)
        loaded = self._loaded.setdefault(node, set())
        scripts, known = pipe.scripts, pipe.scripts <= loaded
        if known:
            pipe.scripts = set()
        replies = pipe.execute(raise_on_error=False)
        forgotten = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if known and forgotten:
            again = client.pipeline(transaction=False)  # this one checks first
            if rerun_all:
                forgotten = list(range(len(adds)))
            for i in forgotten:
                adds[i](again)
            for i, reply in zip(forgotten, again.execute(raise_on_error=False)):
                replies[i] = reply
        loaded |= scripts
        return replies
