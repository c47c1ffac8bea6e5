"""`syncd status`: every instance shown, unreadable ones with the driver's reason, and its exit codes."""

from __future__ import annotations

import contextlib
import io
import socket
from pathlib import Path

from syncd.cli import main


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_databases_are_named_with_the_reason_and_the_others_still_shown(tmp_path: Path) -> None:
    port = _closed_port()
    config = tmp_path / "syncd.toml"
    config.write_text(
        '[hub]\nurl = "http://127.0.0.1:9"\n'
        f'[[instances]]\nname = "pg"\nurl = "postgresql://syncd:pw-status-canary@127.0.0.1:{port}/lab"\n'
        f'[[instances]]\nname = "gone"\nurl = "sqlite:///{tmp_path}/no-such-dir/gone.db"\n'
        f'[[instances]]\nname = "corrupt"\nurl = "sqlite:///{tmp_path}/corrupt.db"\n'
        f'[[instances]]\nname = "new"\nurl = "sqlite:///{tmp_path}/new.db"\n'
    )
    (tmp_path / "corrupt.db").write_bytes(b"this is not a database" * 100)
    out, err = io.StringIO(), io.StringIO()
    assert main(["status", "--config", str(config)], environ={}, stdout=out, stderr=err) == 1
    text = out.getvalue()
    assert err.getvalue() == ""
    assert f"cannot open postgresql+psycopg://syncd:***@127.0.0.1:{port}/lab: connection failed" in text
    assert "Connection refused" in text and "pw-status-canary" not in text
    assert f"cannot open sqlite:///{tmp_path}/no-such-dir/gone.db: no such directory {tmp_path}/no-such-dir" in text
    assert f"cannot read sqlite:///{tmp_path}/corrupt.db: file is not a database" in text
    assert "OperationalError" not in text
    # the instance not created yet is shown as such, and status does not create it
    assert f"new (sqlite:///{tmp_path}/new.db)\n  never synced\n" in text
    assert text.endswith("\n") and text.splitlines()[-1].startswith("doorbell: unknown (")
    assert not (tmp_path / "new.db").exists()


def test_status_help_documents_the_exit_codes() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["status", "--help"])
    assert code == 0
    help_text = " ".join(out.getvalue().split())
    assert "exit codes: 0 every instance was read; 1 at least one instance could not be read" in help_text
    assert "2 bad command line or configuration" in help_text
