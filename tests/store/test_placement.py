"""`syncd serve` refuses a SQLite instance on a network file system: its locks hold on one host only."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from syncd.daemon.service import Daemon
from syncd.store.placement import filesystem_of, sqlite_on_network_filesystems
from tests.support.builders import settings_for

MOUNTINFO = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
40 27 0:50 / /srv/shared rw,relatime - nfs4 filer:/export rw,vers=4.2
41 40 8:2 / /srv/shared/local\040disk rw,relatime - xfs /dev/sdb1 rw
"""


def test_the_file_system_is_the_one_of_the_longest_mount_point_above_the_path() -> None:
    assert filesystem_of(Path("/srv/shared/labs"), MOUNTINFO) == "nfs4"
    assert filesystem_of(Path("/srv/shared/local disk/x"), MOUNTINFO) == "xfs"
    assert filesystem_of(Path("/srv/sharedness"), MOUNTINFO) == "ext4"
    assert filesystem_of(Path("/anything"), "") is None


def test_sqlite_on_nfs_is_a_problem_named_with_the_instance() -> None:
    settings = settings_for("http://127.0.0.1:9", {
        "shared": "sqlite:////srv/shared/labs/lab.db",
        "local": "sqlite:////srv/shared/local disk/lab.db",
        "pg": "postgresql://u@127.0.0.1/db",
    })
    problems = sqlite_on_network_filesystems(settings.instances, mountinfo=lambda: MOUNTINFO)
    assert len(problems) == 1
    assert problems[0].startswith("instances.shared: /srv/shared/labs/lab.db is on a nfs4 file system")


def test_serve_refuses_to_start_with_a_sqlite_instance_on_nfs(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text('[hub]\nurl = "http://127.0.0.1:9"\n\n[[instances]]\nname = "shared"\n'
                      'url = "sqlite:////srv/shared/labs/lab.db"\n')
    daemon = Daemon(config, {"SYNCD_HUB_TOKEN": "t"},
                    placement=lambda insts: sqlite_on_network_filesystems(insts, mountinfo=lambda: MOUNTINFO))
    with capture_logs() as logs:
        assert daemon.start() == 2
    [event] = [e for e in logs if e["event"] == "config.invalid"]
    assert "nfs4" in event["problems"][0]
