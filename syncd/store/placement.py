"""Where a SQLite instance lives: refuse a network file system for replicas.

SQLite's locks (and syncd's lock file beside the database) hold between the
processes of one host only; on NFS, SMB and their kin two replicas on two
hosts could both believe they hold an instance and write it at once. ``syncd
serve`` therefore refuses a SQLite instance on a network file system, found
from the kernel's mount table (``/proc/self/mountinfo``). Where that table
cannot be read (not Linux), nothing can be detected and nothing is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from syncd.settings import InstanceSettings
from syncd.store.dialects import dialect_for

__all__ = ["NETWORK_FILESYSTEMS", "filesystem_of", "sqlite_on_network_filesystems"]

NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "gpfs",
    "beegfs", "ocfs2", "gfs2", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs", "fuse.s3fs",
    "fuse.gcsfuse", "fuse.juicefs", "fuse.rclone", "davfs", "fuse.davfs2",
})


def _mountinfo() -> str:
    try:
        return Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _unescape(field: str) -> str:
    # the kernel writes space, tab, newline and backslash in mount points as octal escapes
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _mounts(text: str) -> Iterable[tuple[str, str]]:
    """(mount point, file system type) of each line of a ``mountinfo`` text."""
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        yield _unescape(fields[4]), right.split()[0]


def filesystem_of(path: Path, mountinfo: str) -> str | None:
    """The type of the file system ``path`` is on (the longest mount point above it), if known."""
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for point, fstype in _mounts(mountinfo):
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    return None if best is None else best[1]


def sqlite_on_network_filesystems(
    instances: Iterable[InstanceSettings], *, mountinfo: Callable[[], str] = _mountinfo
) -> list[str]:
    """A problem for each SQLite instance whose file is on a network file system (empty: none found)."""
    table = mountinfo()
    problems = []
    for inst in instances:
        url = make_url(inst.url.reveal())
        database = dialect_for(url).database_file(url)
        if database is None:
            continue
        fstype = filesystem_of(database.parent, table)
        if fstype in NETWORK_FILESYSTEMS:
            problems.append(
                f"instances.{inst.name}: {url.database} is on a {fstype} file system; SQLite's locks hold "
                "on one host only, so replicas on several hosts could write it at once: keep SQLite "
                "instances on a local disk of the one host that syncs them, or use PostgreSQL"
            )
    return problems
