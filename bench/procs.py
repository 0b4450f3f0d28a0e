"""The processes a benchmark runs: a private Redis, the LINE stand-in, the real bot.
Each is started by the bench and stopped by its own PID, in a `finally`."""
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

from outbox.clock import real_seconds as monotonic
from storage.redis_server import LocalCluster, RedisServer, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK_DIR = os.path.join(ROOT, ".bench")
SECRET = "bench-channel-secret"
TOKEN = "bench-channel-token"
DEBUG_TOKEN = "bench-debug-token"


def _stop(process, timeout=10.0):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def http_json(port, method, path, body=None, headers=None, timeout=60.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


@contextlib.contextmanager
def _throwaway(server):
    """`server` (a RedisServer or a LocalCluster) started, then stopped by PID and its
    directory removed."""
    try:
        with server:
            yield server
    finally:
        shutil.rmtree(server.data_dir, ignore_errors=True)


def private_redis(name="redis", persistent=False):
    """A throwaway redis-server under .bench/ (`persistent`: with its append-only file, so
    that it can be restarted mid-run)."""
    return _throwaway(RedisServer(os.path.join(WORK_DIR, f"{name}-{os.getpid()}"),
                                  persistent=persistent))


def private_cluster(name="cluster"):
    """A throwaway Redis Cluster (3 masters, 3 replicas) under .bench/."""
    return _throwaway(LocalCluster(os.path.join(WORK_DIR, f"{name}-{os.getpid()}")))


class StandInProcess:
    """`python -m bench.standin` in its own process; `records()` fetches what it saw."""

    def __init__(self, latency=0.0, rate_limit=None):
        args = [sys.executable, "-m", "bench.standin", "--token", TOKEN,
                "--latency", str(latency)]
        if rate_limit is not None:
            args += ["--rate-limit", str(rate_limit)]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.strip():
            _stop(self.process)
            raise RuntimeError("the LINE stand-in did not start")
        self.port = int(line)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.process.pid

    def configure(self, **options):
        return http_json(self.port, "POST", "/_bench/config", options)[1]

    def reset(self):
        http_json(self.port, "POST", "/_bench/reset", {})

    def stats(self):
        return http_json(self.port, "GET", "/_bench/stats")[1]

    def records(self):
        return http_json(self.port, "GET", "/_bench/records")[1]

    def pushes_since(self, since, wait):
        """The pushes after the first `since`, as soon as there is one (at most `wait` s)."""
        return http_json(self.port, "POST", "/_bench/pushes", {"since": since, "wait": wait})[1][
            "pushes"]

    def stop(self):
        _stop(self.process)


class BotProcess:
    """The real server, `python web.py`, configured by environment variables only."""

    def __init__(self, redis_url, line_base_url, log_name="bot", profile=False, variants=(),
                 fresh_log=False, workers=None, **env):
        """`workers`: run under gunicorn with that many worker processes (the Procfile's
        way) instead of `python web.py`."""
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "CHANNEL_SECRET": SECRET, "CHANNEL_ACCESS_TOKEN": TOKEN, "REDIS_URL": redis_url,
            "LINE_API_BASE_URL": line_base_url, "PORT": str(self.port), "HOST": "127.0.0.1",
            "DEBUG_TOKEN": DEBUG_TOKEN,
        })
        self.env.update({name: str(value) for name, value in env.items()})
        os.makedirs(WORK_DIR, exist_ok=True)
        self.log_path = os.path.join(WORK_DIR, f"{log_name}.log")
        # With profile=True or variants the bot runs under bench.runner: profile_start() and
        # profile_stop() switch cProfile on and off; the stats land in .bench/<name>.prof.
        self.profile_path = os.path.join(WORK_DIR, f"{log_name}.prof") if profile else None
        self.variants = tuple(variants)
        self.workers = workers
        if workers:
            self.env["WEB_CONCURRENCY"] = str(workers)
        self.log_mode = "wb" if fresh_log else "ab"   # append: a restarted bot keeps its history
        self.process = None
        self.started_at = None
        self.started_wall = None

    def start(self):
        self.started_at = monotonic()
        self.started_wall = time.time()   # the stand-in stamps requests with time.time()
        with open(self.log_path, self.log_mode) as log:
            command = [sys.executable, "web.py"]
            if self.workers:
                command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
            elif self.profile_path or self.variants:
                command = [sys.executable, "-m", "bench.runner"]
                for name in self.variants:
                    command += ["--variant", name]
            if self.profile_path:
                if os.path.exists(self.profile_path):
                    os.unlink(self.profile_path)
                command += ["--profile", self.profile_path]
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self):
        return self.process.pid

    def wait_healthy(self, timeout=120.0, interval=0.01):
        """Poll /healthz; returns (seconds from start to first answer, to first 200)."""
        first_answer = None
        deadline = monotonic() + timeout
        while monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.process.returncode}; "
                                   f"see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = None
            if status is not None:
                now = monotonic()
                if first_answer is None:
                    first_answer = now - self.started_at
                if status == 200:
                    return first_answer, now - self.started_at
            time.sleep(interval)
        raise RuntimeError(f"/healthz not 200 within {timeout} s")

    def first_reply(self, standin, user_id, text, timeout=120.0, interval=0.01):
        """Seconds from exec until the stand-in got the reply to a webhook from `user_id`,
        sent as soon as the port takes connections (and again after a 503 "starting up")."""
        from bench.webhooks import post_once, signed_request, text_event_body

        token = secrets.token_hex(16)
        request = signed_request(self.port, text_event_body(user_id, text, token), SECRET)
        deadline = monotonic() + timeout
        while True:
            if monotonic() > deadline:
                raise RuntimeError(f"no 200 for a webhook within {timeout} s")
            try:
                status = post_once(self.port, request, timeout)
            except OSError:
                status = None             # not listening yet
            if status == 200:
                break
            if status not in (None, 503):
                raise RuntimeError(f"the webhook was answered {status}")
            time.sleep(interval)
        while monotonic() < deadline:
            replied = [at for reply_token, _, at in standin.records()["replies"]
                       if reply_token == token]
            if replied:
                return replied[0] - self.started_wall
            time.sleep(interval)
        raise RuntimeError(f"no reply within {timeout} s")

    def worker_pids(self):
        """The gunicorn workers' pids (children of the master)."""
        with open(f"/proc/{self.pid}/task/{self.pid}/children") as children:
            return [int(pid) for pid in children.read().split()]

    def debug_actors(self):
        return http_json(self.port, "GET", "/debug/actors",
                         headers={"Authorization": f"Bearer {DEBUG_TOKEN}"})[1]

    def pids(self):
        """The server's processes: gunicorn's master and workers, or the one."""
        return [self.pid] + (self.worker_pids() if self.workers else [])

    def memory(self):
        """{"VmRSS": kB, "VmHWM": kB} of the server, summed over its processes."""
        figures = [read_memory(pid) for pid in self.pids()]
        return {name: sum(figure[name] for figure in figures) for name in ("VmRSS", "VmHWM")}

    def reset_peak(self):
        for pid in self.pids():
            reset_peak(pid)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def profile_start(self):
        if self.profile_path:
            os.kill(self.pid, signal.SIGUSR1)

    def profile_stop(self, timeout=30.0):
        """Stop profiling; returns the stats file once written (None when not profiling)."""
        if not self.profile_path:
            return None
        os.kill(self.pid, signal.SIGUSR2)
        deadline = monotonic() + timeout
        size = -1
        while monotonic() < deadline:
            if os.path.exists(self.profile_path):
                current = os.path.getsize(self.profile_path)
                if current == size and current > 0:
                    return self.profile_path
                size = current
            time.sleep(0.2)
        return None

    def stop(self):
        _stop(self.process, timeout=30)


def read_memory(pid) -> dict:
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0])
    return figures


def reset_peak(pid) -> None:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


def cpu_seconds(pid) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
