"""The systemd units: what they promise, and systemd-analyze's verdict (verify clean, exposure <= 1.5)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.systemd import UNITS, our_units, scratch_root, systemd_analyze

SERVICES = ("syncd.service", "syncd@.service", "syncd-run-once.service")
HARDENING = (
    "DynamicUser", "User", "StateDirectory", "UMask", "CapabilityBoundingSet", "AmbientCapabilities",
    "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateUsers",
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
    "ProtectClock", "ProtectHostname", "ProtectProc", "RestrictAddressFamilies", "RestrictNamespaces",
    "RestrictSUIDSGID", "RestrictRealtime", "LockPersonality", "MemoryDenyWriteExecute",
    "SystemCallArchitectures", "SystemCallFilter",
)


def directives(name: str) -> dict[str, list[str]]:
    """``Section.Key`` → every value it is given (systemd keys may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def one(d: dict[str, list[str]], key: str) -> str:
    values = d[key]
    assert len(values) == 1, f"{key} given {len(values)} times"
    return values[0]


def test_the_daemon_unit() -> None:
    d = directives("syncd.service")
    assert one(d, "Service.Type") == "notify"
    assert one(d, "Service.NotifyAccess") == "main"
    assert re.fullmatch(r"/\S+/syncd serve --config /etc/syncd/syncd.toml", one(d, "Service.ExecStart"))
    assert one(d, "Service.Restart") == "on-failure"
    assert one(d, "Service.RestartPreventExitStatus") == "2"  # configuration errors
    assert int(one(d, "Service.RestartSec").rstrip("s")) >= 5
    assert "Unit.StartLimitBurst" in d
    assert int(one(d, "Service.WatchdogSec").rstrip("s")) >= 10
    # the stop timeout leaves room for the default 30 s grace
    assert int(one(d, "Service.TimeoutStopSec").rstrip("s")) > 30
    assert one(d, "Service.LoadCredential") == "hub-token:/etc/syncd/hub-token"
    assert one(d, "Service.ExecReload").endswith("kill -HUP $MAINPID")
    assert one(d, "Service.CapabilityBoundingSet") == ""
    assert one(d, "Service.ProtectSystem") == "strict"
    assert one(d, "Service.DynamicUser") == "yes"
    assert "@system-service" in d["Service.SystemCallFilter"]
    assert set(one(d, "Service.RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_the_replica_template_passes_its_shard() -> None:
    d = directives("syncd@.service")
    assert one(d, "Service.ExecStart").endswith("serve --config /etc/syncd/syncd.toml --shard %I")
    assert one(d, "Service.EnvironmentFile") == "-/etc/syncd/replica-%i.env"
    assert one(d, "Service.Type") == "notify"


def test_the_one_shot_unit_and_its_timer() -> None:
    d = directives("syncd-run-once.service")
    assert one(d, "Service.Type") == "oneshot"
    assert one(d, "Service.ExecStart").endswith("syncd run-once --config /etc/syncd/syncd.toml")
    t = directives("syncd-run-once.timer")
    assert one(t, "Timer.Unit") == "syncd-run-once.service"
    assert "Timer.OnUnitInactiveSec" in t
    assert one(t, "Install.WantedBy") == "timers.target"


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_is_hardened_alike(name: str) -> None:
    d = directives(name)
    reference = directives("syncd.service")
    for key in HARDENING:
        assert d.get(f"Service.{key}") == reference[f"Service.{key}"], key


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    root = scratch_root(tmp_path, our_units())
    names = ["syncd.service", "syncd@0-3.service", "syncd-run-once.service", "syncd-run-once.timer"]
    result = subprocess.run([analyze, "verify", f"--root={root}", *names],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_analyze_verify_catches_a_mistake(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    broken = our_units()["syncd.service"].replace("ProtectSystem=strict", "ProtectSytem=strict")
    root = scratch_root(tmp_path, {"syncd.service": broken})
    result = subprocess.run([analyze, "verify", f"--root={root}", "syncd.service"],
                            capture_output=True, text=True, check=False)
    assert "ProtectSytem" in result.stdout + result.stderr


@pytest.mark.parametrize("unit", ["syncd.service", "syncd@0-3.service", "syncd-run-once.service"])
def test_security_exposure_is_at_most_1_5(tmp_path: Path, unit: str) -> None:
    analyze = systemd_analyze()
    root = scratch_root(tmp_path, our_units())
    result = subprocess.run([analyze, "security", "--offline=yes", f"--root={root}", unit],
                            capture_output=True, text=True, check=False)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.5
