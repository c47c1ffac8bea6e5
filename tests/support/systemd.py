"""The repository's systemd units, and a scratch root where systemd-analyze can check them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.tools import require_tool

__all__ = ["UNITS", "our_units", "scratch_root", "systemd_analyze"]

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def systemd_analyze() -> str:
    """The systemd-analyze binary; skips the test without it (fails it under CI)."""
    return require_tool("systemd-analyze", "apt-get install systemd")


def scratch_root(tmp_path: Path, units: dict[str, str]) -> Path:
    """A root holding the distribution's units, ours and the binaries ExecStart= names.

    systemd-analyze checks that those binaries exist; syncd is not installed at
    /opt/syncd/bin on a test machine, so a stub stands in for it.
    """
    root = tmp_path / "root"
    system = Path(os.path.realpath("/lib/systemd/system"))
    shutil.copytree(system, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for name, text in units.items():
        (root / "etc/systemd/system" / name).write_text(text)
    for binary in ("opt/syncd/bin/syncd", "usr/bin/kill"):
        path = root / binary
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return root


def our_units() -> dict[str, str]:
    """The repository's units and timers by file name."""
    return {p.name: p.read_text() for p in UNITS.iterdir() if p.suffix in (".service", ".timer")}
