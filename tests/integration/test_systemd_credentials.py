"""The documented drop-in that loads a PostgreSQL password credential is one systemd accepts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.systemd import our_units, scratch_root, systemd_analyze

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _documented_drop_in() -> tuple[str, str]:
    """(path, text) of the ```ini block in docs/operations.md that names a syncd.service.d drop-in."""
    for block in re.findall(r"```ini\n(.*?)```", OPERATIONS.read_text(), re.DOTALL):
        lines = [line.strip() for line in block.splitlines()]
        if lines and lines[0].startswith("# /etc/systemd/system/syncd.service.d/"):
            return lines[0][2:], "\n".join(lines[1:]) + "\n"
    raise AssertionError("docs/operations.md shows no syncd.service.d drop-in")


def test_the_documented_password_drop_in_verifies(tmp_path: Path) -> None:
    path, text = _documented_drop_in()
    assert "LoadCredential=pg-lab-b:/etc/syncd/pg-lab-b" in text
    root = scratch_root(tmp_path, our_units())
    drop_in = root / path.lstrip("/")
    drop_in.parent.mkdir(parents=True)
    drop_in.write_text(text)
    analyze = systemd_analyze()
    result = subprocess.run([analyze, "verify", f"--root={root}", "syncd.service"],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    # and the check is real: a misspelt directive in the drop-in is reported
    drop_in.write_text(text.replace("LoadCredential=", "LoadCredentials="))
    result = subprocess.run([analyze, "verify", f"--root={root}", "syncd.service"],
                            capture_output=True, text=True, check=False)
    assert "LoadCredentials" in result.stdout + result.stderr
