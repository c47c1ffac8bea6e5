"""Secret files: hub tokens and PostgreSQL passwords read from a file or a systemd credential.

A hub token comes from ``token_file``, else the environment variable
``token_env`` (default ``SYNCD_HUB_TOKEN``), else the systemd credential
``hub-token`` (``$CREDENTIALS_DIRECTORY/hub-token``). An instance's PostgreSQL
password may come from ``password_file`` or the credential named by
``password_credential``; it is handed to the driver as a connection argument,
never put into the URL.

A file that cannot be read is a problem naming the file, the reason and the
user syncd runs as. A secret file that group or others may read is accepted
with a ``config.secret_file_exposed`` warning, as ssh does for its keys (a
line on stderr when logging is not set up yet, as in ``syncd status``), except
a root-owned file that only one group other than root's may read (mode 0440 or
0400-ish, as a Kubernetes Secret is mounted for the pod's ``fsGroup``).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from syncd.secrets import Secret
from syncd.settings.model import TokenSource
from syncd.settings.reader import TableReader

__all__ = ["MAX_SECRET_BYTES", "TOKEN_ENV", "instance_password", "read_secret_file", "running_as", "token"]

log = structlog.get_logger(__name__)

TOKEN_ENV = "SYNCD_HUB_TOKEN"  # noqa: S105 - the variable's name, not a token
CREDENTIAL = "hub-token"
MAX_SECRET_BYTES = 64 * 1024  # a token or password file is a line; more is not a secret file


def read_secret_file(path: Path) -> str:
    """The text of a small secret file; :class:`OSError` when unreadable or larger than the bound."""
    with path.open("rb") as handle:
        data = handle.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise OSError(0, f"larger than {MAX_SECRET_BYTES} bytes, not a token or password file")
    return data.decode("utf-8", errors="replace")


def running_as() -> str:
    """``uid 998 (syncd)``: who syncd is, for messages about files it cannot read."""
    uid = os.geteuid()
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _cannot_read(path: Path | str, exc: OSError) -> str:
    why = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot read {path}: {why} (syncd runs as {running_as()})"


def _warn_if_exposed(path: Path, key: str, stat_fn: Callable[[Path], os.stat_result]) -> None:
    try:
        info = stat_fn(path)
    except OSError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return
    if info.st_uid == 0 and info.st_gid != 0 and not mode & 0o037:
        # root's file that one group may only read: how Kubernetes mounts a Secret for a pod's
        # fsGroup (and how PostgreSQL accepts a root-owned key), a deliberate grant
        return
    fix = f"chmod 600 {path} (or 0400): only the user syncd runs as should read it"
    if structlog.is_configured():
        log.warning("config.secret_file_exposed", key=key, path=str(path), mode=f"{mode:04o}", fix=fix)
    else:  # a command that reads its settings before it sets up logging: a line on stderr, not stdout
        exposed = f"{path} is readable by group or others (mode {mode:04o})"
        sys.stderr.write(f"syncd: warning: {key}: {exposed}: {fix}\n")


def _read_token(
    r: TableReader,
    path: Path,
    key: str,
    reader: Callable[[Path], str],
    stat_fn: Callable[[Path], os.stat_result],
    *,
    missing_ok: bool = False,
) -> str | None:
    """The stripped token; None after reporting a problem, or silently when missing and ``missing_ok``."""
    try:
        value = reader(path).strip()
    except FileNotFoundError:
        if missing_ok:
            return None
        r.problem(key, _cannot_read(path, FileNotFoundError(2, "no such file")))
        return None
    except OSError as exc:
        r.problem(key, _cannot_read(path, exc))
        return None
    if not value:
        r.problem(key, f"{path} is empty")
        return None
    _warn_if_exposed(path, key, stat_fn)
    return value


def token(
    r: TableReader,
    t: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str],
    reader: Callable[[Path], str],
    stat_fn: Callable[[Path], os.stat_result] = os.stat,
) -> tuple[Secret, TokenSource] | None:
    """The hub token of one hub table, or None after reporting why there is none.

    Without ``r.require_token`` (readers of the instance databases) a missing or
    unreadable token is no problem: the token is empty and its source ``absent``.
    """
    token_file = r.string(t, prefix, "token_file")
    token_env = r.string(t, prefix, "token_env")
    key = f"{prefix}.token_file"
    # problems about the token are collected apart and kept only when the token is required
    found = TableReader(r.source)
    value: str | None = None
    source: TokenSource | None = None
    env_name = token_env or TOKEN_ENV
    cred_dir = environ.get("CREDENTIALS_DIRECTORY")
    if token_file is not None:
        value = _read_token(found, Path(token_file), key, reader, stat_fn)
        source = TokenSource("file", token_file)
    elif environ.get(env_name, "").strip():
        value, source = environ[env_name].strip(), TokenSource("env", env_name)
    elif token_env is None and cred_dir:
        path = Path(cred_dir) / CREDENTIAL
        value = _read_token(found, path, key, reader, stat_fn, missing_ok=True)
        source = TokenSource("credential", str(path))
    if value is not None and source is not None:
        return Secret(value), source
    if not r.require_token:
        return Secret(""), TokenSource("absent", "")
    if not found.problems:
        found.problem(
            key,
            f"no hub token: set token_file, or the environment variable {env_name}"
            + ("" if token_env else ", or provide the systemd credential hub-token"),
        )
    r.problems.extend(found.problems)
    return None


def instance_password(
    r: TableReader,
    item: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str],
    reader: Callable[[Path], str],
    stat_fn: Callable[[Path], os.stat_result] = os.stat,
) -> tuple[bool, Secret | None]:
    """``(ok, password)`` from ``password_file`` or ``password_credential``; ok is False after a problem."""
    file_key, cred_key = f"{prefix}.password_file", f"{prefix}.password_credential"
    password_file = r.string(item, prefix, "password_file")
    credential = r.string(item, prefix, "password_credential")
    if password_file is None and credential is None:
        return True, None
    if password_file is not None and credential is not None:
        r.problem(file_key, "give password_file or password_credential, not both")
        return False, None
    if password_file is not None:
        path, key = Path(password_file), file_key
    else:
        assert credential is not None
        cred_dir = environ.get("CREDENTIALS_DIRECTORY")
        if not cred_dir:
            r.problem(cred_key, f"$CREDENTIALS_DIRECTORY is unset (LoadCredential={credential}:PATH sets it)")
            return False, None
        if "/" in credential or credential in ("", ".", ".."):
            r.problem(cred_key, f"must be a credential name, not a path: {credential!r}")
            return False, None
        path, key = Path(cred_dir) / credential, cred_key
    # a password file holds the password alone: only the line ending is not part of it
    try:
        value = reader(path).rstrip("\r\n")
    except OSError as exc:
        r.problem(key, _cannot_read(path, exc))
        return False, None
    if not value:
        r.problem(key, f"{path} is empty")
        return False, None
    _warn_if_exposed(path, key, stat_fn)
    return True, Secret(value)
