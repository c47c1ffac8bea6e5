"""The daemon in-process, with a fake engine: scheduling, readiness, reload, shutdown, notify."""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from syncd.daemon.service import Daemon, serve
from tests.support.engine_fakes import FakeEngine

ENV = {"SYNCD_HUB_TOKEN": "tok-service-test-1"}
DEADLINE = 10.0


def _config(tmp_path: Path, names: list[str], *, grace: float = 5.0, extra: str = "") -> Path:
    lines = [
        '[hub]\nurl = "http://127.0.0.1:9"\n',
        f"[schedule]\ninterval_seconds = 1\njitter_seconds = 0\nshutdown_grace_seconds = {grace}\n"
        "max_backoff_seconds = 8\n",
        '[health]\nlisten = "127.0.0.1:0"\n',
        extra,
    ]
    for name in names:
        lines.append(f'[[instances]]\nname = "{name}"\nurl = "sqlite:///{tmp_path / name}.db"\n')
    path = tmp_path / "syncd.toml"
    path.write_text("\n".join(lines))
    return path


def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.02)


class HardExit(BaseException):
    def __init__(self, code: int) -> None:
        self.code = code


def _hard_exit(code: int) -> NoReturn:
    raise HardExit(code)


class Running:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.result: list[object] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result.append(self.daemon.run())
        except HardExit as exc:
            self.result.append(exc)

    def base(self) -> str:
        _until(lambda: self.daemon.server is not None or bool(self.result), "the health server")
        return f"http://127.0.0.1:{self.daemon.port}"

    def stop(self) -> object:
        self.daemon.request_stop()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()
        return self.result[0]


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(DEADLINE)
    yield sock
    sock.close()


def _daemon(path: Path, engine: FakeEngine, **kw: Any) -> Running:
    kw.setdefault("hard_exit", _hard_exit)
    kw.setdefault("rng", random.Random(1))
    running = Running(Daemon(path, kw.pop("environ", ENV), sync=engine, **kw))
    running.thread.start()
    return running


def _messages(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().splitlines()


def test_serves_syncs_and_becomes_ready(tmp_path: Path, notify: socket.socket) -> None:
    engine = FakeEngine()
    env = {**ENV, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    running = _daemon(_config(tmp_path, ["lab-a", "lab-b"]), engine, environ=env, heartbeat_seconds=0.2)
    base = running.base()
    first = _messages(notify)
    assert "READY=1" in first
    with httpx.Client(base_url=base, timeout=5) as client:
        assert client.get("/livez").status_code == 200
        _until(lambda: client.get("/readyz").status_code == 200, "readiness")
        body = client.get("/readyz").json()
        assert set(body["instances"]) == {"lab-a", "lab-b"}
        assert body["instances"]["lab-a"]["deferred"] == 1
        assert 'syncd_runs_total{instance="lab-a",outcome="ok"}' in client.get("/metrics").text
    # one group: both instances share the hub, so one call per run
    assert engine.calls[0] == (["lab-a", "lab-b"], False)
    assert running.stop() == 0
    rest = []
    while "STOPPING=1" not in rest:
        rest = _messages(notify)
    assert running.daemon.health is not None
    assert running.daemon.health.phase == "stopping"


def test_a_failing_instance_makes_readyz_503_with_the_reason(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.fail = {"lab-b"}
    running = _daemon(_config(tmp_path, ["lab-a", "lab-b"]), engine)
    with httpx.Client(base_url=running.base(), timeout=5) as client:
        _until(lambda: bool(engine.calls), "a run")
        _until(lambda: "lab-b" in str(client.get("/readyz").json()["reasons"]), "the failure")
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "hub_unavailable" in response.json()["reasons"][0]
        engine.fail = set()
        _until(lambda: client.get("/readyz").status_code == 200, "recovery")
    assert running.stop() == 0


def test_shutdown_lets_the_run_in_flight_finish(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.block = threading.Event()  # never set: the run ends only through the stop event
    running = _daemon(_config(tmp_path, ["lab-a"]), engine)
    running.base()
    assert engine.started.wait(DEADLINE)
    # 0, not a hard exit: the run ended through the stop event, within the grace
    assert running.stop() == 0
    assert running.daemon.active.count == 0
    assert len(engine.calls) == 1  # nothing new was scheduled after the stop


def test_grace_expiry_exits_hard_with_zero(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.block = threading.Event()
    engine.ignore_stop = True
    running = _daemon(_config(tmp_path, ["lab-a"], grace=0.3), engine)
    running.base()
    assert engine.started.wait(DEADLINE)
    outcome = running.stop()
    engine.block.set()
    assert isinstance(outcome, HardExit)
    assert outcome.code == 0
    assert running.daemon.active.wait_idle(DEADLINE)  # let the abandoned run end inside this test


def test_a_second_stop_request_exits_at_once(tmp_path: Path) -> None:
    engine = FakeEngine()
    running = _daemon(_config(tmp_path, ["lab-a"]), engine)
    running.base()
    running.daemon.request_stop()
    with pytest.raises(HardExit) as info:
        running.daemon.request_stop(2)
    assert info.value.code == 130
    running.thread.join(DEADLINE)


def test_reload_keeps_the_old_configuration_when_the_new_one_is_bad(tmp_path: Path) -> None:
    engine = FakeEngine()
    path = _config(tmp_path, ["lab-a"])
    running = _daemon(path, engine)
    running.base()
    daemon = running.daemon
    _until(lambda: bool(engine.calls), "a run")
    good = path.read_text()
    path.write_text(good + "\n[bogus]\nkey = 1\n")
    assert daemon.reload() is False
    assert daemon.settings is not None
    assert [i.name for i in daemon.settings.instances] == ["lab-a"]
    path.write_text(good + '\n[[instances]]\nname = "lab-new"\nurl = "sqlite:///x.db"\n')
    daemon.request_reload()
    _until(lambda: daemon.settings is not None and len(daemon.settings.instances) == 2, "the reload")
    _until(lambda: any("lab-new" in names for names, _ in engine.calls), "a run with the new instance")
    with httpx.Client(base_url=running.base(), timeout=5) as client:
        assert set(client.get("/readyz").json()["instances"]) == {"lab-a", "lab-new"}
    assert running.stop() == 0


def test_a_reload_that_changes_the_interval_reschedules_the_kept_group(tmp_path: Path) -> None:
    engine = FakeEngine()
    path = _config(tmp_path, ["lab-a"])
    running = _daemon(path, engine)
    running.base()
    daemon = running.daemon
    path.write_text(path.read_text().replace("interval_seconds = 1\n", "interval_seconds = 7\n"))
    reload = threading.Thread(target=daemon.reload, daemon=True)
    reload.start()
    reload.join(DEADLINE)
    assert not reload.is_alive(), "the reload hung"
    assert daemon.settings is not None and daemon.settings.schedule.interval_seconds == 7
    assert running.stop() == 0


def test_bad_configuration_at_start_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "syncd.toml"
    path.write_text("[hub]\nurl = 3\n")
    daemon = Daemon(path, ENV, sync=FakeEngine(), hard_exit=_hard_exit)
    assert daemon.run() == 2


def test_busy_port_is_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = _config(tmp_path, ["lab-a"])
        path.write_text(path.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"))
        daemon = Daemon(path, ENV, sync=FakeEngine(), hard_exit=_hard_exit)
        assert daemon.run() == 1


def test_serve_wires_signals_and_the_shard(tmp_path: Path) -> None:
    engine = FakeEngine()
    names = [f"lab-{i}" for i in range(8)]
    handlers: list[Daemon] = []
    restored = threading.Event()

    def install(daemon: Daemon) -> Callable[[], None]:
        handlers.append(daemon)
        return restored.set

    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(serve(
        _config(tmp_path, names), ENV, shard=(1, 2), install_signals=install, sync=engine,
        hard_exit=_hard_exit, configure_logs=lambda s: None, initial_logs=None)), daemon=True)
    thread.start()
    _until(lambda: bool(engine.calls), "a run")
    daemon = handlers[0]
    assert daemon.settings is not None
    assert daemon.settings.schedule.shard == (1, 2)
    assert 0 < len(daemon.settings.instances) < len(names)
    daemon.request_stop()
    thread.join(DEADLINE)
    assert result == [0]
    assert restored.is_set()


def test_check_reaches_the_daemon_where_it_listens_after_a_reload_changed_the_listen_address(
    tmp_path: Path,
) -> None:
    import io

    from syncd.cli import main
    from syncd.daemon.runtime_state import state_file

    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {**ENV, "SYNCD_RUNTIME_DIR": str(runtime)}
    path = _config(tmp_path, ["lab-a"])
    running = _daemon(path, FakeEngine(), environ=env)
    running.base()
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        unused = probe.getsockname()[1]
    path.write_text(path.read_text().replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{unused}"'))
    running.daemon.request_reload()
    _until(lambda: running.daemon.settings is not None
           and running.daemon.settings.health.listen_port == unused, "the reload")

    def check() -> tuple[int, str]:
        out = io.StringIO()
        code = main(["check", "--config", str(path)], environ=env, stdout=out, stderr=io.StringIO())
        return code, out.getvalue()

    _until(lambda: check()[0] == 0, "check to find the daemon ready")
    code, said = check()
    assert code == 0
    assert (f"note: the daemon listens on 127.0.0.1:{running.daemon.port} (recorded in "
            f"{state_file(path, env)}); the configured [health] listen 127.0.0.1:{unused} takes effect "
            "when it restarts") in said
    assert running.stop() == 0
    # stopped: the file is gone, and check says why it cannot ask
    assert not state_file(path, env).exists()
    code, said = check()
    assert code == 2
    assert f"cannot ask http://127.0.0.1:{unused}/readyz" in said
    assert f"no running daemon recorded its address in {state_file(path, env)}" in said


def test_a_signal_that_lands_on_another_thread_still_reaches_the_main_loop(tmp_path: Path) -> None:
    """The kernel hands a process signal to any thread that does not block it.

    Python runs the handler on the main thread only once that thread executes
    bytecode again, so a main loop asleep on a lock would never see it. Here
    the main thread blocks SIGHUP and SIGTERM while it runs the daemon, so both
    land on a helper thread, as they do whenever the main thread is busy.
    """
    from syncd.daemon.signals import install_signal_handlers

    engine = FakeEngine()
    path = _config(tmp_path, ["lab-a"])
    daemon = Daemon(path, ENV, sync=engine, hard_exit=_hard_exit, rng=random.Random(1))
    seen: list[str] = []
    go = threading.Event()

    def operator() -> None:
        go.wait(DEADLINE)
        _until(lambda: daemon.health is not None and daemon.health.phase == "running", "start-up")
        path.write_text(path.read_text() + f'\n[[instances]]\nname = "lab-b"\nurl = "sqlite:///{tmp_path}/b.db"\n')
        os.kill(os.getpid(), signal.SIGHUP)
        try:
            _until(lambda: daemon.settings is not None and len(daemon.settings.instances) == 2, "the reload")
            seen.append("reloaded")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            stopped = time.monotonic() + DEADLINE
            while daemon.health is not None and daemon.health.phase != "stopping":
                if time.monotonic() > stopped:
                    seen.append("SIGTERM never reached the main loop")
                    daemon.request_stop()  # unblock the test instead of hanging it
                    break
                threading.Event().wait(0.02)

    helper = threading.Thread(target=operator, daemon=True)
    helper.start()  # created before the mask below, so it takes the signals
    restore = install_signal_handlers(daemon)
    blocked = {signal.SIGHUP, signal.SIGTERM}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        go.set()
        code = daemon.run()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        restore()
    helper.join(DEADLINE)
    assert seen == ["reloaded"]
    assert code == 0
