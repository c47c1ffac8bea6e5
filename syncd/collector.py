"""Python's cyclic garbage collector during ``syncd run-once``.

A full sync allocates millions of short-lived objects (hub rows, validated
rows, statement parameters), so the collector runs often, and every third
level of its passes walks every object the process holds, with the GIL held
and every thread stopped. Most of those objects are what the imports made
(SQLAlchemy's, psycopg's, httpx's), which live as long as the process. In a
100,000-block load into two SQLite and one PostgreSQL instance, its full
passes took 0.23-0.25 s; with the import-time objects frozen (``gc.freeze``),
0.06 s (docs/benchmarks.md).

:func:`imports_frozen` freezes what exists when the run starts and unfreezes
it when the run ends, so a process that goes on (a test runner, a program
calling :func:`syncd.cli.main`) gets its objects back into collection. A
process that froze objects itself (before forking workers, say) is left as
it is: its freeze is neither extended nor undone.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["imports_frozen"]


@contextlib.contextmanager
def imports_frozen() -> Iterator[int]:
    """Within the block, the objects that exist now are left out of collection; yields how many.

    Does nothing (and yields 0) when the process has frozen objects already.
    """
    if gc.get_freeze_count():
        yield 0
        return
    gc.freeze()
    try:
        yield gc.get_freeze_count()
    finally:
        gc.unfreeze()
