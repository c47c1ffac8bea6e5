"""What the apply functions need besides the connection and the rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from syncd.core.models import KeyedRow
from syncd.store.dialects import Dialect
from syncd.store.references import SpaceReferences

__all__ = ["ApplyContext", "latest_per_id"]



RowT = TypeVar("RowT", bound=KeyedRow)


def latest_per_id(rows: list[RowT]) -> list[RowT]:
    """One row per hub id: the one served last, in the order of first appearance.

    The hub serves a row's current state, and a late commit can re-stamp it
    older than a version served before, so the order of serving decides, not
    the stamps.
    """
    last: dict[object, RowT] = {}
    for row in rows:
        last[row.key] = row
    return list(last.values())


@dataclass(slots=True)
class ApplyContext:
    dialect: Dialect
    now: datetime
    references: SpaceReferences
    on_name_conflict: Literal["reject", "adopt"] = "reject"
