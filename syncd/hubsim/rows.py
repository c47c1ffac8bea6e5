"""Hub rows inside the emulator: timestamp spellings, cached JSON.

A :class:`Record` is one committed version of a row. Records are replaced, never
mutated, so each one can cache its serialised JSON: serving a page is a join of
cached byte strings.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from syncd.core.models import Resource
from syncd.core.timestamps import format_canonical
from syncd.hubsim.columns import hash_content
from syncd.hubsim.resources import EMULATED

__all__ = [
    "KEY_COLUMNS",
    "Record",
    "Spelling",
    "hash_content",
    "micros",
]

KEY_COLUMNS = ("id", "lnid", "updated_at")
_TIME_COLUMNS = frozenset({"created_at", "updated_at", "deleted_at"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# Offsets a varied spelling may use, as (suffix, offset); "Z" and "+00:00" are both UTC.
_OFFSETS: tuple[tuple[str, timedelta], ...] = (
    ("Z", timedelta(0)),
    ("+00:00", timedelta(0)),
    ("+05:30", timedelta(hours=5, minutes=30)),
    ("-03:00", timedelta(hours=-3)),
    ("+09:00", timedelta(hours=9)),
    ("-07:00", timedelta(hours=-7)),
    ("+13:45", timedelta(hours=13, minutes=45)),
)


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch: an integer sort key for an aware datetime."""
    return (moment - _EPOCH) // _MICROSECOND


class Spelling:
    """How timestamps are written out.

    ``seed=None`` gives the canonical spelling (``+00:00``, 6 fractional
    digits). With a seed, each timestamp of each row gets an offset and a
    number of fractional digits chosen deterministically from the seed, the
    row id, the column and the instant. The instant itself is never changed:
    fractional digits are only dropped when they are zeros.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def format(self, moment: datetime, row_id: uuid.UUID, column: str) -> str:
        if self.seed is None:
            return format_canonical(moment)
        token = f"{self.seed}:{row_id}:{column}:{micros(moment)}".encode()
        choice = hashlib.blake2b(token, digest_size=4).digest()
        suffix, offset = _OFFSETS[choice[0] % len(_OFFSETS)]
        fraction = f"{moment.microsecond:06d}"
        needed = len(fraction.rstrip("0"))
        digits = needed + choice[1] % (7 - needed)
        local = moment.astimezone(timezone(offset))
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        if digits:
            text += "." + fraction[:digits]
        return text + suffix


@dataclass(slots=True)
class Record:
    """One committed version of a hub row.

    ``values`` holds Python values: ``uuid.UUID`` ids, aware UTC datetimes,
    ``created_by`` as a dict. ``scope`` is the space id row-level security
    checks (the space itself, or a block's space).
    """

    resource: Resource
    values: dict[str, Any]
    spelling: Spelling
    id: uuid.UUID = field(init=False)
    scope: uuid.UUID = field(init=False)
    order_key: tuple[int, int] = field(init=False)
    deleted: bool = field(init=False)
    _full: bytes | None = field(default=None, init=False)
    _keys: bytes | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.id = self.values["id"]
        self.scope = self.values[EMULATED[self.resource].scope_column]
        self.order_key = (micros(self.values["updated_at"]), self.id.int)
        self.deleted = self.values["deleted_at"] is not None

    @property
    def updated_micros(self) -> int:
        return self.order_key[0]

    def json(self, keys_only: bool = False) -> bytes:
        """The row as compact UTF-8 JSON (every column, or only ``id,lnid,updated_at``); cached."""
        if keys_only:
            if self._keys is None:
                self._keys = self._encode(KEY_COLUMNS)
            return self._keys
        if self._full is None:
            self._full = self._encode(EMULATED[self.resource].description.columns)
        return self._full

    def as_dict(self) -> dict[str, Any]:
        """A copy of the row's Python values."""
        copy = dict(self.values)
        if copy.get("created_by") is not None:
            copy["created_by"] = dict(copy["created_by"])
        return copy

    def _encode(self, columns: tuple[str, ...]) -> bytes:
        out: dict[str, Any] = {}
        for column in columns:
            value = self.values[column]
            if column in _TIME_COLUMNS and value is not None:
                value = self.spelling.format(value, self.id, column)
            elif isinstance(value, uuid.UUID):
                value = str(value)
            out[column] = value
        return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
