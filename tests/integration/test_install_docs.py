"""The documented install (docs/operations.md) and the systemd units agree; .ci/install-check runs it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "systemd").glob("syncd*.*"))


def install_steps() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"<!-- install-steps[^>]*-->\n```sh\n(.*?)\n```", text, re.DOTALL)
    assert block, "docs/operations.md has no install-steps block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def directive(unit: Path, name: str) -> list[str]:
    return [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith(f"{name}=")]


def test_syncd_goes_into_a_virtualenv_with_the_pinned_dependencies_never_the_system_python() -> None:
    steps = install_steps()
    assert "python3 -m venv /opt/syncd" in steps
    pip = [s for s in steps if " pip " in f" {s} " or "/pip " in s]
    assert pip == ["/opt/syncd/bin/pip install --constraint constraints.txt ."]
    assert any(s.startswith("apt-get install -y python3-venv") for s in steps)


def test_every_unit_runs_the_installed_binary_and_documents_an_installed_file() -> None:
    steps = [shlex.split(s, comments=True) for s in install_steps()]
    installed: set[str] = set()
    for argv in steps:
        if argv[:1] == ["install"] and "-t" in argv:
            target = argv[argv.index("-t") + 1].rstrip("/")
            sources = [a for a in argv[argv.index("-t") + 2:] if not a.startswith("-")]
            installed |= {f"{target}/{Path(src).name}" for src in sources}
    for unit in UNITS:
        assert f"/etc/systemd/system/{unit.name}" in installed, f"no step installs {unit.name}"
        for doc in " ".join(directive(unit, "Documentation")).split():
            assert doc.startswith("file://") and doc.removeprefix("file://") in installed, (unit.name, doc)
        for exec_start in directive(unit, "ExecStart"):
            assert exec_start.split()[0] == "/opt/syncd/bin/syncd", unit.name
    assert "/opt/syncd/share/doc/syncd/operations.md" in installed


def test_the_check_script_is_wired_into_the_ops_checks() -> None:
    script = ROOT / ".ci" / "install-check"
    assert script.stat().st_mode & 0o111
    assert ".ci/install-check" in (ROOT / ".ci" / "ops-checks").read_text()


def test_the_docs_send_lamindb_users_to_lamin_init_and_name_the_database_it_creates() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## LaminDB instances: create them with `lamin init`", 1)[1].split("\n## ", 1)[0]
    storage = re.search(r"^lamin init --storage (\S+)", section, re.MULTILINE)
    url = re.search(r'^url = "sqlite:///(\S+)"$', section, re.MULTILINE)
    assert storage and url
    # where `lamin init --storage DIR` puts the SQLite database (what tests/test_lamindb_compat.py runs)
    assert url.group(1) == f"{storage.group(1)}/.lamindb/lamin.db"
    assert "LaminDB itself cannot open such\na database" in section
