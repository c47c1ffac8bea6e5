"""Where a running daemon says which address its health server is bound to, for ``syncd check``.

``[health] listen`` takes effect only when the daemon starts, so after a reload
that changed it the configuration file no longer says where the daemon
listens. The daemon therefore writes the address it bound to a small JSON file
in the runtime directory, and ``syncd check`` reads that file first.

The runtime directory is ``$SYNCD_RUNTIME_DIR``, else ``$RUNTIME_DIRECTORY``
(set by systemd's ``RuntimeDirectory=``; its first entry), else ``/run/syncd``.
The file is ``health-<key>.json``, where ``<key>`` is derived from the
configuration file's absolute path and ``$SYNCD_HEALTH_LISTEN``: the two things
a ``syncd check`` run with the same ``--config`` and environment shares with its
daemon and that a reload cannot change. Replicas on one machine differ in
``$SYNCD_HEALTH_LISTEN``, so each has its own file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import structlog

__all__ = ["DEFAULT_RUNTIME_DIR", "ListenState", "read_listen_state", "record_listen_state",
           "remove_listen_state", "runtime_dir", "state_file", "write_listen_state"]

log = structlog.get_logger(__name__)

DEFAULT_RUNTIME_DIR = Path("/run/syncd")
_MAX_STATE_BYTES = 4096

ListenState = tuple[str, int]


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """The directory that holds the daemon's runtime state (see the module docstring)."""
    chosen = environ.get("SYNCD_RUNTIME_DIR") or environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(chosen) if chosen else DEFAULT_RUNTIME_DIR


def state_file(config: Path, environ: Mapping[str, str]) -> Path:
    """The health state file of the daemon run with ``config`` under ``environ``."""
    identity = f"{config.resolve()}\0{environ.get('SYNCD_HEALTH_LISTEN', '')}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return runtime_dir(environ) / f"health-{key}.json"


def write_listen_state(path: Path, host: str, port: int, *, config: Path, pid: int) -> None:
    """Record the bound address atomically (a reader never sees half a file); readable by every user."""
    body = json.dumps({"listen_host": host, "listen_port": port, "config": str(config.resolve()), "pid": pid})
    partial = path.with_name(f".{path.name}.{pid}")
    partial.write_text(body + "\n")
    partial.chmod(0o644)  # nothing secret: an address, a path and a pid
    os.replace(partial, path)


def record_listen_state(config: Path, environ: Mapping[str, str], host: str, port: int) -> Path | None:
    """Tell ``syncd check`` where the health server is bound, whatever a later reload says.

    Returns the file written, or None when it could not be written (logged: ``syncd check``
    then asks the address in the configuration).
    """
    path = state_file(config, environ)
    try:
        write_listen_state(path, host, port, config=config, pid=os.getpid())
    except OSError as exc:
        log.info("health.state_not_written", path=str(path), error=exc.strerror or str(exc),
                 consequence="syncd check asks the address in the configuration")
        return None
    return path


def read_listen_state(path: Path) -> ListenState | None:
    """The address recorded in ``path``; None when there is no such file or it is not one of ours."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_STATE_BYTES)
        body = json.loads(raw)
        host, port = body["listen_host"], body["listen_port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(host, str) or not isinstance(port, int) or not 0 < port < 65536:
        return None
    return host, port


def remove_listen_state(path: Path) -> None:
    """Remove the file on a clean stop (already gone is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
