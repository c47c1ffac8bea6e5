"""The emulator's store: how long one keyset page takes, by where it starts (prints figures).

    python benchmarks/hubsim_store_bench.py [--blocks 100000] [--page 1000] [--repeat 20]

Fills an in-memory :class:`syncd.hubsim.HubStore` with ``--blocks`` blocks of
500 characters, then times ``select`` of one page of ``--page`` rows in
``(updated_at, id)`` order starting at the first row, the middle row and near
the last, each ``--repeat`` times after one warm-up (which fills the rows' JSON
cache). Prints the median and the slowest per start. A page costs a binary
search plus the rows it returns, so the three should be alike; the unit tests
count the rows a page examines instead of timing it.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

from syncd.hubsim import HubStore, ManualClock
from syncd.hubsim.query import parse_query

ORDERED = "select=*&order=updated_at.asc,id.asc&limit={n}"


def _query(store: HubStore, block_id: uuid.UUID, page: int) -> str:
    row = store.get("space_block", block_id)
    assert row is not None
    ts = row["updated_at"].isoformat()
    keyset = quote(f"(updated_at.gt.{ts},and(updated_at.eq.{ts},id.gt.{row['id']}))", safe="")
    return ORDERED.format(n=page) + "&or=" + keyset


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blocks", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    store = HubStore(clock=ManualClock(datetime(2025, 1, 1, 12, tzinfo=UTC)))
    space = store.create_space("Lab A")
    began = time.perf_counter()
    ids = store.bulk_import(args.blocks, space_id=space["id"], content_size=500)
    print(f"filled {args.blocks} blocks in {time.perf_counter() - began:.2f} s")
    starts = {
        "at the start": ORDERED.format(n=args.page),
        "in the middle": _query(store, ids[len(ids) // 2], args.page),
        "near the end": _query(store, ids[-args.page - 1], args.page),
    }
    for name, text in starts.items():
        query = parse_query(text)
        store.select("space_block", query, "all", args.page)  # warm-up: the rows' JSON is cached
        seconds = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            rows = store.select("space_block", query, "all", args.page)
            seconds.append(time.perf_counter() - began)
        print(f"page of {len(rows)} {name}: median {statistics.median(seconds) * 1000:.2f} ms, "
              f"slowest {max(seconds) * 1000:.2f} ms ({args.repeat} runs)")


if __name__ == "__main__":
    main()
