"""Two ``[[instances]]`` entries that name one database are refused at load time.

Two entries for one database would each take that database's lock and wait
for the other on every run. What counts as one database:

- SQLite: the same file, whatever the spelling: relative or absolute, ``.``
  and ``..``, a ``file:`` URI, a symbolic link, or a hard link (same device
  and inode). In-memory databases are never the same.
- PostgreSQL: the same database name and port on the same host. Host names
  are compared as written (lower case, without a trailing dot) and are never
  looked up in DNS; only this machine's names are recognised as one:
  ``localhost`` and ``*.localhost``, every loopback address (``127.0.0.0/8``,
  ``::1``, ``::ffff:127.0.0.1``), the unspecified address and a Unix socket
  directory all mean "this machine". Defaults are libpq's: ``$PGHOST``,
  ``$PGPORT`` (else 5432) and ``$PGDATABASE`` (else the user name). An entry
  whose database cannot be told (a ``service=`` entry, no database and no
  user) is not compared.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from syncd.settings.reader import TableReader
from syncd.settings.urls import DatabaseURL, parse_url

__all__ = ["database_identities", "refuse_shared_databases"]

LOCAL = "this machine"


def _sqlite_path(url: DatabaseURL) -> str | None:
    database = url.database or ""
    if database.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        database = database[len("file:"):]
        if database.startswith("//"):  # file://host/path: only an empty or localhost authority is local
            database = "/" + database[2:].partition("/")[2]
    if database in ("", ":memory:"):
        return None
    return database


def _first(value: str | tuple[str, ...] | None) -> str | None:
    if isinstance(value, tuple):
        return ",".join(value) if value else None
    return value


def normal_host(host: str) -> str:
    """A host as compared: lower case, and every name for this machine as one."""
    text = host.strip().lower().rstrip(".")
    if text == "" or text.startswith(("/", "@")):  # a Unix socket directory (or an abstract socket)
        return LOCAL
    if text == "localhost" or text.endswith(".localhost"):
        return LOCAL
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return LOCAL
    return str(ip)


def _postgres(url: DatabaseURL, environ: Mapping[str, str]) -> tuple[str, str] | None:
    query = url.query
    if "service" in query:
        return None
    hosts = _first(query.get("host")) or url.host or environ.get("PGHOST") or ""
    url_port = str(url.port) if url.port else None
    ports = _first(query.get("port")) or url_port or environ.get("PGPORT") or "5432"
    user = _first(query.get("user")) or url.username or environ.get("PGUSER")
    dbname = _first(query.get("dbname")) or url.database or environ.get("PGDATABASE") or user
    if not dbname:
        return None
    host_list = [normal_host(h) for h in hosts.split(",")]
    port_list = ports.split(",")
    if len(port_list) == 1:
        port_list *= len(host_list)
    if len(port_list) != len(host_list) or not all(p.strip().isdigit() for p in port_list):
        return None
    servers = ",".join(sorted({f"{h}:{int(p)}" for h, p in zip(host_list, port_list, strict=True)}))
    return f"postgresql:{servers}/{dbname}", f"PostgreSQL database {dbname!r} on {servers}"


def database_identities(url: str, environ: Mapping[str, str]) -> tuple[list[str], str] | None:
    """Keys under which two entries are one database, and how to describe it; None when unknown."""
    try:
        parsed = parse_url(url)
    except ValueError:
        return None
    backend = parsed.backend
    if backend == "postgresql":
        found = _postgres(parsed, environ)
        return None if found is None else ([found[0]], found[1])
    if backend != "sqlite":
        return None
    path = _sqlite_path(parsed)
    if path is None:
        return None
    real = os.path.realpath(path)
    keys = [f"sqlite:{real}"]
    try:
        info = Path(real).stat()
    except OSError:
        pass  # not created yet: its resolved path is all there is to compare
    else:
        keys.append(f"sqlite-inode:{info.st_dev}:{info.st_ino}")
    return keys, f"SQLite file {real}"


def refuse_shared_databases(
    r: TableReader, entries: Sequence[tuple[str, str, str]], environ: Mapping[str, str]
) -> None:
    """Report every entry (``prefix``, ``name``, ``url``) naming a database an earlier entry names."""
    seen: dict[str, str] = {}
    for prefix, name, url in entries:
        found = database_identities(url, environ)
        if found is None:
            continue
        keys, what = found
        earlier = next((seen[k] for k in keys if k in seen), None)
        if earlier is not None:
            r.problem(
                f"{prefix}.url",
                f"instances {earlier!r} and {name!r} point at one database ({what}); "
                "each would wait for the other's lock on every run: keep one entry",
            )
            continue
        for key in keys:
            seen[key] = name
