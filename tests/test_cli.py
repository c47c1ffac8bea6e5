"""The command line: exit codes, summaries, the demo, and secrets kept out of output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd import cli
from syncd.cli import entry, main
from syncd.hubsim.sample import populate
from syncd.hubsim.server import running_hub
from syncd.hubsim.store import HubStore
from tests.support.builders import TOKEN


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _config(tmp_path: Path, hub_url: str, *names: str, extra: str = "") -> Path:
    body = f'[hub]\nurl = "{hub_url}"\nretry_attempts = 2\nretry_max_seconds = 1\n{extra}\n'
    for name in names:
        body += f'[[instances]]\nname = "{name}"\nurl = "sqlite:///{tmp_path / name}.db"\n'
    path = tmp_path / "syncd.toml"
    path.write_text(body)
    return path


@pytest.fixture
def hub():  # type: ignore[no-untyped-def]
    store = HubStore(seed=3)
    populate(store, spaces=5, blocks=40, seed=3)
    with running_hub(store, tokens={TOKEN: "all"}) as running:
        yield running


def test_run_once_json_summary_then_nothing_to_do(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    config = _config(tmp_path, hub.url, "a", "b")
    out = io.StringIO()
    assert main(["run-once", "--config", str(config)], environ={"SYNCD_HUB_TOKEN": TOKEN}, stdout=out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    summary = next(e for e in events if e["event"] == "sync.summary")
    assert summary["ok"] is True
    assert [i["instance"] for i in summary["instances"]] == ["a", "b"]
    assert summary["instances"][0]["space"]["inserted"] > 0
    out2 = Tty()
    assert (
        main(
            ["run-once", "--config", str(config), "--instance", "b"],
            environ={"SYNCD_HUB_TOKEN": TOKEN},
            stdout=out2,
            stderr=io.StringIO(),
        )
        == 0
    )
    table = out2.getvalue()
    assert table.splitlines()[0].split()[:4] == ["instance", "resource", "inserted", "updated"]
    assert "b " in table and "a " not in table.split("\n", 2)[2]


def test_configuration_errors_exit_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hub]\nurl = "http://127.0.0.1:9"\n[sync]\npage_size = 0\n')
    err = io.StringIO()
    assert main(["run-once", "--config", str(path)], environ={"SYNCD_HUB_TOKEN": TOKEN}, stderr=err) == 2
    assert "sync.page_size" in err.getvalue()
    assert "instances: at least one" in err.getvalue()
    assert main(["run-once", "--bogus"], stderr=io.StringIO()) == 2
    assert (
        main(["run-once", "--config", str(tmp_path / "missing.toml")], environ={}, stderr=io.StringIO()) == 2
    )


def test_unknown_instance_is_a_configuration_error(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    err = io.StringIO()
    code = main(
        ["run-once", "--config", str(_config(tmp_path, hub.url, "a")), "--instance", "zz"],
        environ={"SYNCD_HUB_TOKEN": TOKEN},
        stderr=err,
    )
    assert code == 2
    assert "no instance named 'zz'" in err.getvalue()


def test_auth_failure_exits_1_without_printing_the_token(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    canary = "canary-9d8e7f6a5b4c"
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["run-once", "--config", str(_config(tmp_path, hub.url, "a"))],
        environ={"SYNCD_HUB_TOKEN": canary},
        stdout=out,
        stderr=err,
    )
    assert code == 1
    summary = next(json.loads(x) for x in out.getvalue().splitlines() if '"sync.summary"' in x)
    assert summary["instances"][0]["error_kind"] == "auth"
    assert canary not in out.getvalue() + err.getvalue()


def test_one_broken_instance_does_not_stop_the_others(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "broken.db").write_text("this is not a database")
    out = io.StringIO()
    code = main(
        ["run-once", "--config", str(_config(tmp_path, hub.url, "good", "broken"))],
        environ={"SYNCD_HUB_TOKEN": TOKEN},
        stdout=out,
    )
    assert code == 1
    summary = next(json.loads(x) for x in out.getvalue().splitlines() if '"sync.summary"' in x)
    by_name = {i["instance"]: i for i in summary["instances"]}
    assert by_name["good"]["outcome"] == "ok"
    assert by_name["broken"]["outcome"] == "failed"
    assert "broken.db" in by_name["broken"]["error"]


def test_demo_twice_reports_no_changes_the_second_time(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "syncd", "demo", "--dir", str(tmp_path / "demo")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "demo-a" in first.stdout
    assert (tmp_path / "demo" / "demo-a.db").exists()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    assert "No changes" in second.stdout


def test_the_command_exits_with_main_s_code(
    tmp_path: Path, hub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("SYNCD_HUB_TOKEN", TOKEN)
    monkeypatch.setattr("gc.freeze", lambda: None)  # not this test process's objects (see the subprocess tests)
    config = str(_config(tmp_path, hub.url, "a"))
    with pytest.raises(SystemExit) as ended:
        entry(["run-once", "--config", config])
    assert ended.value.code == 0
    assert '"sync.summary"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as ended:
        entry(["run-once", "--config", config, "--instance", "zz"])
    assert ended.value.code == 2
    with pytest.raises(SystemExit) as ended:
        entry(["status", "--config", str(tmp_path / "missing.toml")])
    assert ended.value.code == 2
    assert "missing.toml" in capsys.readouterr().err


def test_main_leaves_the_interpreter_s_settings_as_it_found_them(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    import gc

    def state() -> tuple[object, ...]:
        # the count of frozen objects falls as they are freed: whether there are any is what main decides
        return gc.get_freeze_count() > 0, gc.get_threshold(), gc.isenabled(), sys.getswitchinterval()

    before = state()
    config = str(_config(tmp_path, hub.url, "a", "b"))
    assert main(["run-once", "--config", config], environ={"SYNCD_HUB_TOKEN": TOKEN}, stdout=io.StringIO()) == 0
    assert state() == before


_HOST_PROGRAM = """
import atexit, gc, sys
from pathlib import Path
from syncd.cli import entry

marker, buffered, config = (Path(a) for a in sys.argv[1:])
atexit.register(lambda: marker.write_text(f"atexit ran; frozen: {gc.get_freeze_count() > 0}"))
held = open(buffered, "w", buffering=1 << 20)  # flushed only when the interpreter finalises it
held.write("the host program's data")
entry(["run-once", "--config", str(config)])
"""


def test_a_run_once_process_runs_the_host_s_atexit_handlers_and_flushes_its_files(
    tmp_path: Path, hub  # type: ignore[no-untyped-def]
) -> None:
    config = _config(tmp_path, hub.url, "a")
    marker, buffered = tmp_path / "atexit.txt", tmp_path / "buffered.txt"
    done = subprocess.run(
        [sys.executable, "-c", _HOST_PROGRAM, str(marker), str(buffered), str(config)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SYNCD_HUB_TOKEN": TOKEN},
    )
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "atexit ran; frozen: True"  # the process's entry point froze its imports
    assert buffered.read_text() == "the host program's data"


def test_a_profiled_run_once_process_writes_its_profile(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    import pstats

    config = _config(tmp_path, hub.url, "a")
    profile = tmp_path / "run.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "syncd", "run-once", "--config", str(config)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "SYNCD_HUB_TOKEN": TOKEN}
    )
    assert done.returncode == 0, done.stderr
    assert pstats.Stats(str(profile)).total_calls > 0


def test_a_run_once_process_prints_its_whole_summary_and_exit_code(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    config = str(_config(tmp_path, hub.url, "a", "b"))
    cmd = [sys.executable, "-m", "syncd", "run-once", "--config", config]
    env = {**os.environ, "SYNCD_HUB_TOKEN": TOKEN}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])  # the last line, complete
    assert summary["event"] == "sync.summary"
    assert [i["outcome"] for i in summary["instances"]] == ["ok", "ok"]
    refused = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, check=False, env={**env, "SYNCD_HUB_TOKEN": "wrong"}
    )
    assert refused.returncode == 1
    assert json.loads(refused.stdout.splitlines()[-1])["instances"][0]["error_kind"] == "auth"


def test_status_and_check_need_no_hub_token(tmp_path: Path, hub) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as probe:  # a port where no daemon listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = str(_config(tmp_path, hub.url, "a", extra=f'[health]\nlisten = "127.0.0.1:{port}"\n'))
    assert main(["run-once", "--config", config], environ={"SYNCD_HUB_TOKEN": TOKEN}, stdout=io.StringIO()) == 0

    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "--config", config], environ={}, stdout=out, stderr=err) == 0
    assert "space: complete before" in out.getvalue()
    assert "space_block: complete before" in out.getvalue()
    assert err.getvalue() == ""

    out, err = io.StringIO(), io.StringIO()
    assert main(["check", "--config", config], environ={}, stdout=out, stderr=err) == 2  # cannot ask
    assert f"cannot ask http://127.0.0.1:{port}/readyz" in out.getvalue()
    assert "token" not in err.getvalue()

    # run-once still needs it, and says so
    err = io.StringIO()
    assert main(["run-once", "--config", config], environ={}, stdout=io.StringIO(), stderr=err) == 2
    assert "token" in err.getvalue()


@pytest.mark.parametrize("command", sorted(cli._COMMAND_MODULES))
def test_each_command_s_libraries_import_before_the_freeze(command: str) -> None:
    # entry() imports them by name before gc.freeze(): a stale name would stop the command at start
    done = subprocess.run([sys.executable, "-m", "syncd", command, "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: syncd" in done.stdout
