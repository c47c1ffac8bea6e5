"""The benchmark's baseline: the least work a hub-to-SQLite copy can do.

Plain ``httpx`` page fetches (the contract's keyset queries, page size 1000,
the same token headers syncd sends) and ``sqlite3.executemany`` of the rows
into a fresh file, one table per resource holding its columns, one commit per
page. No validation, no identity mapping, no cursors, no users, no deferral.
Fetching and writing alternate in one thread (no prefetch).

Run as its own process so its wall time and peak RSS can be measured like
syncd's::

    python benchmarks/baseline.py --url http://127.0.0.1:PORT --db /tmp/base.db

The token comes from ``$SYNCD_HUB_TOKEN``. Prints one JSON line: rows and
requests per resource.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from typing import Any
from urllib.parse import quote

import httpx

_FIRST = "select=*&order=updated_at.asc,id.asc&limit={n}"
_AFTER = "&or=(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{id}))"

_DDL = (
    "CREATE TABLE space (id TEXT PRIMARY KEY, lnid TEXT, name TEXT, description TEXT, created_at TEXT,"
    " updated_at TEXT, deleted_at TEXT, created_by TEXT)",
    "CREATE TABLE space_block (id TEXT PRIMARY KEY, lnid TEXT, space_id TEXT, content TEXT, hash TEXT,"
    " kind TEXT, version_tag TEXT, is_latest INTEGER, created_at TEXT, updated_at TEXT, deleted_at TEXT,"
    " created_by TEXT)",
)
_COLUMNS = {
    "space": ("id", "lnid", "name", "description", "created_at", "updated_at", "deleted_at"),
    "space_block": (
        "id",
        "lnid",
        "space_id",
        "content",
        "hash",
        "kind",
        "version_tag",
        "is_latest",
        "created_at",
        "updated_at",
        "deleted_at",
    ),
}


def _creator(row: dict[str, Any]) -> str | None:
    creator = row.get("created_by")
    return creator.get("lnid") if isinstance(creator, dict) else None


def copy_resource(
    client: httpx.Client, db: sqlite3.Connection, base_url: str, resource: str, page_size: int
) -> tuple[int, int]:
    """Copy every row of ``resource``; return ``(rows, requests)``."""
    columns = _COLUMNS[resource]
    marks = ", ".join("?" * (len(columns) + 1))
    insert = f"INSERT OR REPLACE INTO {resource} ({', '.join(columns)}, created_by) VALUES ({marks})"
    url = f"{base_url}/rest/v1/{resource}?"
    query = _FIRST.format(n=page_size)
    rows_total = requests = 0
    while True:
        response = client.get(url + query)
        requests += 1
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()
        if not rows:
            return rows_total, requests
        db.executemany(insert, [(*(r.get(c) for c in columns), _creator(r)) for r in rows])
        db.commit()
        rows_total += len(rows)
        last = rows[-1]
        ts = quote(last["updated_at"], safe="")
        query = _FIRST.format(n=page_size) + _AFTER.format(ts=ts, id=last["id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Baseline: httpx pages + sqlite3 executemany.")
    parser.add_argument("--url", required=True, help="hub base URL")
    parser.add_argument("--db", required=True, help="SQLite file to create (must not exist)")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    token = os.environ.get("SYNCD_HUB_TOKEN", "")
    if os.path.exists(args.db):
        parser.error(f"{args.db} exists; the baseline writes into a fresh file")
    headers = {"Authorization": f"Bearer {token}", "apikey": token, "Accept": "application/json"}
    db = sqlite3.connect(args.db)
    for statement in _DDL:
        db.execute(statement)
    db.commit()
    result: dict[str, dict[str, int]] = {}
    with httpx.Client(headers=headers, timeout=30.0) as client:
        for resource in ("space", "space_block"):
            rows, requests = copy_resource(client, db, args.url.rstrip("/"), resource, args.page_size)
            result[resource] = {"rows": rows, "requests": requests}
    db.close()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
