"""The daemon in-process, with a fake engine: scheduling, backoff, readiness, reload, shutdown, notify."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from syncd.core.observe import Observer
from syncd.core.report import InstanceReport, InStep
from syncd.daemon.health import HealthState
from syncd.daemon.metrics import Metrics
from syncd.daemon.schedule import ActiveRuns, GroupJob, backoff_interval
from syncd.daemon.service import Daemon, serve
from syncd.settings import HubGroup, ScheduleSettings, Settings, parse_settings

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


class FakeEngine:
    """Stands in for syncd.runner.sync_group: records calls, answers with scripted outcomes."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []
        self.fail: set[str] = set()
        self.block: threading.Event | None = None  # when set: wait for it (or for stop) before answering
        self.ignore_stop = False
        self.started = threading.Event()

    def __call__(
        self, group: HubGroup, settings: Settings, *, full: bool = False,
        sleep: Callable[[float], None] = time.sleep, observer: Observer | None = None,
        stop: threading.Event | None = None,
    ) -> list[InstanceReport]:
        self.calls.append(([i.name for i in group.instances], full))
        self.started.set()
        if self.block is not None:
            while not self.block.wait(0.01):
                if stop is not None and stop.is_set() and not self.ignore_stop:
                    break
        reports = []
        for inst in group.instances:
            if stop is not None and stop.is_set():
                report = InstanceReport(inst.name, outcome="interrupted", error="interrupted",
                                        error_kind="interrupted")
            elif inst.name in self.fail:
                report = InstanceReport(inst.name, outcome="failed", error="hub down",
                                        error_kind="hub_unavailable")
            else:
                now = datetime.now(UTC)
                # what the real engine reads back from the instance after a completed pull
                report = InstanceReport(inst.name, deferred=1, in_step=InStep(
                    pull_started=now, hub_offset_seconds=0.0, finished_at=now, replica="fake:1",
                    hub=group.hub.url))
            report.finished_at = datetime.now(UTC)
            if observer is not None:
                observer.instance_done(report)
            reports.append(report)
        return reports


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
    started = time.monotonic()
    assert running.stop() == 0
    assert time.monotonic() - started < 3
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


# -- GroupJob: backoff, full reconciles, crashes, overlap ---------------------------------------


def _settings(names: list[str], **schedule: float) -> Settings:
    return parse_settings({
        "hub": {"url": "http://127.0.0.1:9"},
        "schedule": {"interval_seconds": 10, "max_backoff_seconds": 100, "full_reconcile_hours": 1,
                     **schedule},
        "instances": [{"name": n, "url": f"sqlite:////tmp/{n}.db"} for n in names],
    }, ENV)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _job(settings: Settings, engine: Callable[..., list[InstanceReport]], clock: Clock,
         reschedules: list[float]) -> tuple[GroupJob, HealthState, Metrics]:
    health = HealthState([i.name for i in settings.instances], 30.0, clock=clock)
    metrics = Metrics()
    job = GroupJob(settings.groups()[0], settings, sync=engine, observer=metrics, health=health,
                   stop=threading.Event(), active=ActiveRuns(),
                   reschedule=lambda j, s: reschedules.append(s), clock=clock, rng=random.Random(3))
    return job, health, metrics


def test_backoff_doubles_up_to_the_cap() -> None:
    schedule = ScheduleSettings(interval_seconds=10, max_backoff_seconds=100)
    assert [backoff_interval(schedule, n) for n in range(6)] == [10, 20, 40, 80, 100, 100]
    assert backoff_interval(schedule, 10_000) == 100


def test_a_failing_group_backs_off_and_recovers() -> None:
    settings = _settings(["lab-a", "lab-b"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    engine.fail = {"lab-a", "lab-b"}
    job, health, _ = _job(settings, engine, clock, reschedules)
    for _ in range(4):
        job.run()
    assert reschedules == [20, 40, 80, 100]
    engine.fail = {"lab-b"}  # one instance fails, the other works: no backoff for the group
    job.run()
    assert reschedules == [20, 40, 80, 100, 10]
    entry = health.instance("lab-b")
    assert entry is not None
    assert entry.consecutive_failures == 5


def test_full_reconcile_comes_due_on_the_injected_clock() -> None:
    settings = _settings(["lab-a"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    job, _, _ = _job(settings, engine, clock, reschedules)
    job.run()
    clock.now += timedelta(minutes=29)  # the first one is due between 30 and 60 minutes after start
    job.run()
    clock.now += timedelta(minutes=32)
    job.run()
    job.run()
    assert [full for _, full in engine.calls] == [False, False, True, False]
    assert timedelta(minutes=54) <= job.next_full - clock.now <= timedelta(minutes=66)


def test_a_crash_fails_the_run_not_the_scheduler() -> None:
    settings = _settings(["lab-a"])
    clock, reschedules = Clock(), []

    def crashing(*args: object, **kwargs: object) -> list[InstanceReport]:
        raise KeyError("boom")

    job, health, metrics = _job(settings, crashing, clock, reschedules)
    (report,) = job.run()
    assert (report.outcome, report.error_kind) == ("failed", "internal")
    assert report.error == "internal error: KeyError"
    assert reschedules == [20]
    assert b'syncd_runs_total{instance="lab-a",outcome="failed"} 1.0' in metrics.exposition()
    entry = health.instance("lab-a")
    assert entry is not None
    assert entry.error_kind == "internal"


def test_a_job_never_overlaps_itself() -> None:
    settings = _settings(["lab-a"])
    engine, clock, reschedules = FakeEngine(), Clock(), []
    engine.block = threading.Event()
    job, _, _ = _job(settings, engine, clock, reschedules)
    first = threading.Thread(target=job.run)
    first.start()
    assert engine.started.wait(DEADLINE)
    assert job.run() == []  # skipped while the first is in flight
    engine.block.set()
    first.join(DEADLINE)
    assert len(engine.calls) == 1


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
