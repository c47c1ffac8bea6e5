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

Each database's adapter (:meth:`syncd.store.dialects.Dialect.identity`) computes
these keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syncd.settings.reader import TableReader
from syncd.store.dialects import UnsupportedDatabase, dialect_for

__all__ = ["database_identities", "refuse_shared_databases"]

def database_identities(url: str, environ: Mapping[str, str]) -> tuple[list[str], str] | None:
    """Keys under which two entries are one database, and how to describe it; None when unknown."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    try:
        dialect = dialect_for(parsed)
    except UnsupportedDatabase:
        return None
    return dialect.identity(parsed, environ)


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
