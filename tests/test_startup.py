"""Starting up: each way a start can fail ends in one line on stderr naming the cause and the
fix, exit status 2 and nothing left running; simulator mode keeps its users apart.

The failures run the real entry point, `python web.py`, in a session of its own: whatever it
starts (an embedded redis-server) is in its process group, so a survivor is found even after
it was orphaned."""
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

import runtime as runtime_module
from settings import from_environment
from simulator.local import LocalLine
from startup import EXIT_STATUS
from storage.redis_server import RedisServer, free_port
from tests.conftest import SECRET, TOKEN
from web import create_app, make_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the bot reads from the environment and a developer's shell might have set.
BOT_VARIABLES = ("CHANNEL_SECRET", "CHANNEL_ACCESS_TOKEN", "CHANNEL_TOKEN", "REDIS_URL",
                 "LINE_API_BASE_URL", "DEBUG_TOKEN", "DYNO", "LOG_LEVEL", "DATA_DIR", "PORT",
                 "HOST", "SNOOZE_INTERVAL_SECONDS")


def processes_in_group(pgid):
    """Names of the live processes in a process group (Linux /proc)."""
    names = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                line = stat.read()
        except OSError:
            continue
        name, rest = line[line.index("(") + 1:line.rindex(")")], line[line.rindex(")") + 2:]
        state, _ppid, group = rest.split()[:3]
        if int(group) == pgid and state != "Z":
            names.append(name)
    return names


def run_bot(data_dir, command=("web.py",), **env):
    """`python web.py` (or `python <command>`) on embedded defaults plus `env`; returns once
    it has exited."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in BOT_VARIABLES}
    environment.update(HOST="127.0.0.1", PORT=str(free_port()), DATA_DIR=str(data_dir))
    environment.update(env)
    process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=environment,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        survivors = processes_in_group(process.pid)
        if survivors or process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return SimpleNamespace(status=process.returncode, stderr=stderr, survivors=survivors)


def assert_refused(run, cause, fix):
    """Exit status 2, no traceback, nothing left running, and the last stderr line is the
    refusal naming `cause` and `fix`."""
    assert run.survivors == [], f"left running: {run.survivors}"
    assert run.status == EXIT_STATUS, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("usa-reminder cannot start: ") and cause in last and fix in last, last
    assert [line for line in run.stderr.splitlines() if "cannot start" in line] == [last]


def test_a_busy_port_stops_the_start_before_anything_is_started(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = run_bot(tmp_path, PORT=str(port))     # `make run` on a fresh machine, twice
    assert_refused(run, f"port {port} on 127.0.0.1 is already in use", "set PORT to a free port")
    assert list(tmp_path.iterdir()) == []            # neither Redis nor the simulator started


def test_a_redis_that_cannot_be_reached_stops_the_start_and_the_simulator(tmp_path):
    unused = free_port()
    run = run_bot(tmp_path, REDIS_URL=f"redis://127.0.0.1:{unused}/0", LOG_LEVEL="WARNING")
    assert_refused(run, f"Redis at 127.0.0.1:{unused} cannot be reached", "check REDIS_URL")
    assert len(run.stderr.splitlines()) == 1        # LOG_LEVEL=WARNING: the refusal alone


def test_gunicorn_refuses_a_redis_that_cannot_be_reached_before_any_worker_starts(tmp_path):
    unused = free_port()
    run = run_bot(tmp_path, command=("-m", "gunicorn", "-c", "gunicorn.conf.py"),
                  CHANNEL_SECRET=SECRET, CHANNEL_ACCESS_TOKEN=TOKEN,
                  REDIS_URL=f"redis://127.0.0.1:{unused}/0")
    assert_refused(run, f"Redis at 127.0.0.1:{unused} cannot be reached", "check REDIS_URL")
    assert "Booting worker" not in run.stderr


def test_a_bad_redis_url_is_named_without_its_password(tmp_path):
    run = run_bot(tmp_path, REDIS_URL="http://user:hunter2@example.com/")  # more in test_settings
    assert_refused(run, "REDIS_URL is not a Redis URL", "rediss://")
    assert "hunter2" not in run.stderr


def test_one_credential_without_the_other_is_refused_before_anything_starts(tmp_path):
    run = run_bot(tmp_path, CHANNEL_ACCESS_TOKEN="a-token")
    assert_refused(run, "CHANNEL_ACCESS_TOKEN is set but CHANNEL_SECRET is not",
                   "set CHANNEL_SECRET too")
    assert "a-token" not in run.stderr
    assert list(tmp_path.iterdir()) == []            # nothing was started


def test_an_embedded_redis_that_will_not_load_its_data_is_reported_with_its_log(tmp_path):
    redis_dir = tmp_path / "simulator" / "redis"
    redis_dir.mkdir(parents=True)
    (redis_dir / "appendonly.aof").write_text("not an append-only file\n")
    run = run_bot(tmp_path)
    assert_refused(run, "the embedded redis-server did not start",
                   f"see {redis_dir / 'redis.log'}")


# -- in this process: what a failed start stops, and where simulator users live ---------------

@pytest.fixture
def settings_for(tmp_path, platform):
    """Settings on embedded Redis in tmp_path: simulated=True for simulator mode, else real
    credentials against the LINE stand-in."""
    def make(simulated):
        env = {"HOST": "127.0.0.1", "PORT": "0", "DATA_DIR": str(tmp_path),
               "LINE_TIMEOUT_SECONDS": "2"}
        if not simulated:
            env.update(CHANNEL_SECRET=SECRET, CHANNEL_ACCESS_TOKEN=TOKEN,
                       LINE_API_BASE_URL=platform.base_url)
        return from_environment(env)
    return make


@contextlib.contextmanager
def running(settings):
    """The bot as `main` runs it, serving on a free port; yields (runtime, users with a due time)."""
    runtime = runtime_module.build_runtime(settings)
    app = create_app(channel_secret=runtime.settings.channel_secret, system=runtime.system,
                     store=runtime.store, outbox=runtime.outbox)
    server = make_server(app, "127.0.0.1", 0)
    server.start()
    try:
        runtime.serving("127.0.0.1", server.server_port)
        yield runtime, runtime.system.start()
    finally:
        server.stop(timeout=1)
        runtime.system.stop(timeout=2)
        runtime.close()


def set_a_time_in_the_chat_page(runtime):
    hub = runtime.simulator.hub
    user = hub.add_user()                            # follows: the bot greets
    hub.wait_for(lambda hub: len(hub.texts_for(user.id)) == 1)
    assert hub.send_text(user.id, "7時30分")["status"] == 200
    hub.wait_for(lambda hub: ("bot", "7時30分ですね。わかりました。") in hub.texts_for(user.id))


def test_simulated_users_stay_in_simulator_mode(settings_for, platform, capsys):
    with running(settings_for(simulated=True)) as (runtime, restored):
        assert restored == 0
        set_a_time_in_the_chat_page(runtime)

    with running(settings_for(simulated=False)) as (_, restored):
        assert restored == 0                         # real credentials: no made-up users
    assert platform.pushes == [] and platform.requests == []

    with running(settings_for(simulated=True)) as (_, restored):
        assert restored == 1                         # and they are still there to chat with


def test_simulated_users_stored_with_the_real_ones_before_are_set_apart(settings_for, tmp_path,
                                                                        platform, capsys):
    # The layout before simulator mode had a Redis of its own: one Redis in <data>/redis.
    with RedisServer(str(tmp_path / "redis"), persistent=True) as shared:
        simulated = dataclasses.replace(settings_for(simulated=True), redis_url=shared.url)
        with running(simulated) as (runtime, _):
            set_a_time_in_the_chat_page(runtime)

    with running(settings_for(simulated=False)) as (_, restored):
        assert restored == 0
    assert platform.requests == []
    with running(settings_for(simulated=True)) as (_, restored):
        assert restored == 1


def test_a_start_that_fails_late_stops_what_it_started(settings_for, monkeypatch, capsys):
    redis_servers, simulator_ports = [], []
    start_redis, start_simulator = RedisServer.start, LocalLine.start

    def redis_noted(server, *args, **kwargs):
        started = start_redis(server, *args, **kwargs)
        redis_servers.append((server, server.process))
        return started

    def simulator_noted(local, *args, **kwargs):
        start_simulator(local, *args, **kwargs)
        simulator_ports.append(int(local.base_url.rsplit(":", 1)[1]))
        return local

    def actors_fail(*args):
        raise OSError("the disk is gone")  # the last step of the build

    monkeypatch.setattr(RedisServer, "start", redis_noted)
    monkeypatch.setattr(LocalLine, "start", simulator_noted)
    monkeypatch.setattr(runtime_module, "ActorSystem", actors_fail)
    with pytest.raises(OSError, match="the disk is gone"):
        runtime_module.build_runtime(settings_for(simulated=True))
    [(redis_server, redis_process)], [simulator_port] = redis_servers, simulator_ports
    assert redis_server.process is None                     # stopped by its PID
    assert redis_process.poll() is not None                 # and it is gone
    with pytest.raises(OSError):                            # the stand-in no longer listens
        socket.create_connection(("127.0.0.1", simulator_port), timeout=1)
