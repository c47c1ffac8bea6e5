"""Why an instance database could not be used, said so that an operator can act on it.

A driver's own words rarely name the cause: SQLite says ``unable to open
database file`` for a missing directory, a directory where the file belongs and
a directory the service user cannot write alike. :func:`store_failure` turns an
error met while opening, locking or writing one instance into the
:class:`~syncd.errors.StoreError` subclass that fails that instance alone, with
the path, the cause and the uid syncd runs as. It only looks at the file system
(``stat``, ``access``); it never changes anything.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from syncd.errors import InstanceBusyError, InstanceFileSystemError, InstanceUnreachableError, StoreError

__all__ = ["file_problem", "first_line", "lock_file_failure", "store_failure"]

# SQLite's words for failures that are about the file system, not the database
_SQLITE_FILE_WORDS = (
    "unable to open database file",
    "readonly database",
    "disk i/o error",
    "database or disk is full",
    "is not a database",
)


def first_line(exc: BaseException) -> str:
    """An error's first line (the driver's own error for a SQLAlchemy one), or its type's name."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK if path.is_dir() else os.W_OK, effective_ids=_EFFECTIVE)


_EFFECTIVE = os.access in os.supports_effective_ids


def file_problem(database: Path, *, uid: Callable[[], int] = os.geteuid) -> str | None:
    """What keeps syncd from using the SQLite file ``database`` and its directory, or None if nothing shows.

    SQLite needs the file readable and writable, and its directory writable for
    the journal and syncd's lock file beside it (and for the file itself, when
    the database is new).
    """
    directory = database.parent
    who = f"uid {uid()}"
    if not directory.exists():
        return f"directory {directory} does not exist"
    if not directory.is_dir():
        return f"{directory} is not a directory"
    if database.is_dir():
        return f"{database} is a directory, not a SQLite database file"
    if database.exists() and not os.access(database, os.R_OK, effective_ids=_EFFECTIVE):
        return f"{database} is not readable by {who}"
    if database.exists() and not _writable(database):
        return f"{database} is not writable by {who}"
    if not _writable(directory):
        if database.exists():
            return f"directory {directory} is not writable by {who} (SQLite keeps its journal there)"
        return f"cannot create {database}: directory {directory} is not writable by {who}"
    return None


def _errno_problem(exc: OSError, path: Path) -> str | None:
    if exc.errno == errno.EROFS:
        return f"{path} is on a read-only file system"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the file system holding {path}"
    return None


def lock_file_failure(lock: Path, exc: OSError, *, uid: Callable[[], int] = os.geteuid) -> StoreError:
    """The lock file beside a SQLite database could not be opened or created."""
    problem = _errno_problem(exc, lock)
    if problem is None and lock.is_dir():
        problem = f"{lock} is a directory"
    if problem is None and exc.errno in (errno.EACCES, errno.EPERM):
        directory = lock.parent
        problem = (
            f"directory {directory} not writable by uid {uid()}"
            if not lock.exists() and not _writable(directory)
            else f"{lock} is not writable by uid {uid()}"
        )
    reason = problem or (exc.strerror or type(exc).__name__)
    return InstanceFileSystemError(f"cannot create {lock}: {reason}")


def store_failure(
    exc: BaseException,
    doing: str,
    *,
    sqlite_file: Path | None,
    mask: Callable[[str], str] = lambda text: text,
    uid: Callable[[], int] = os.geteuid,
) -> StoreError:
    """The :class:`StoreError` for ``exc``, met while ``doing`` (e.g. ``"cannot open lab.db"``).

    ``sqlite_file`` is the database file of a SQLite instance (None for
    PostgreSQL or an in-memory database); ``mask`` removes secrets from the
    driver's message.
    """
    if isinstance(exc, StoreError):
        return exc
    message = mask(first_line(exc))
    lowered = message.lower()
    if sqlite_file is not None:
        if "database is locked" in lowered or "database table is locked" in lowered:
            return InstanceBusyError(
                f"{doing}: {sqlite_file} stayed locked by another writer (a LaminDB session, a backup?); "
                f"SQLite said: {message}"
            )
        problem = _errno_problem(exc, sqlite_file) if isinstance(exc, OSError) else None
        if problem is None and "full" in lowered:
            problem = f"no space left on the file system holding {sqlite_file}"
        if problem is None and (isinstance(exc, OSError) or any(w in lowered for w in _SQLITE_FILE_WORDS)):
            problem = file_problem(sqlite_file, uid=uid)
        if problem is not None:
            return InstanceFileSystemError(f"{doing}: {problem}")
    if isinstance(exc, OSError):
        return InstanceFileSystemError(f"{doing}: {message}")
    if isinstance(exc, SQLAlchemyError) and doing.startswith("cannot open"):
        return InstanceUnreachableError(f"{doing}: {message}")
    return StoreError(f"{doing}: {message}")
