"""A complete listing of one resource's live hub keys, as ``syncd run-once --full`` reads it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from syncd.core.models import RawRow
from syncd.core.timestamps import parse_rfc3339

__all__ = ["KeyListing"]


def _uuid_text(value: object) -> str | None:
    """The canonical text of a uuid, or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@dataclass(slots=True)
class KeyListing:
    """The live hub ids of one resource, each with the ``updated_at`` it was listed with.

    The stamps tell rows a change stream has already gone past (stamped before
    its ``complete_before``) from rows committed while the listing was read,
    which the stream's next pass serves anyway. An id listed without a
    parsable stamp is live but never taken for a row the stream went past.
    """

    ids: set[str] = field(default_factory=set)
    stamps: dict[str, datetime] = field(default_factory=dict)
    skipped: int = 0

    def add_rows(self, rows: Iterable[RawRow]) -> None:
        """Add one page of the key listing (``id``, ``lnid``, ``updated_at``).

        An id that is not a uuid is left out: no synced row can have it, so it
        protects nothing from deletion and is no row the stream could serve.
        """
        for raw in rows:
            hub_id = _uuid_text(raw.get("id"))
            if hub_id is None:
                self.skipped += 1
                continue
            self.ids.add(hub_id)
            try:
                self.stamps[hub_id] = parse_rfc3339(raw.get("updated_at"))
            except ValueError:
                continue

    def listed_before(self, moment: datetime) -> set[str]:
        """The ids whose listed ``updated_at`` is earlier than ``moment``."""
        return {hub_id for hub_id, stamp in self.stamps.items() if stamp < moment}
