"""What a registry is: its table, its fields in LaminDB's order, and its relations.

A registry class declares a few attributes (see :mod:`syncd.registry.registries`);
:func:`build_meta` derives from them everything the query, DataFrame, search and
lookup code needs, following the rules LaminDB applies to its Django models.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, String, Table, Text, select

if TYPE_CHECKING:
    from syncd.registry.record import Record

__all__ = ["Forward", "Meta", "Reverse", "build_meta", "registry_named"]


@dataclass(frozen=True)
class Forward:
    """A foreign key: ``block.space`` reads column ``space_id`` and returns a ``Space``."""

    name: str
    target: str | None  # None: a registry this library does not model (only the key is usable)

    @property
    def column(self) -> str:
        return self.name + "_id"


@dataclass(frozen=True)
class Reverse:
    """The other side of a foreign key: ``space.ablocks`` are the blocks whose ``space_id`` is the space."""

    name: str
    target: str
    via: str

    @property
    def column(self) -> str:
        return self.via + "_id"


_MOVED_LAST_IN_FRAMES = (
    "version_tag", "is_latest", "is_locked", "is_type", "created_at", "updated_at", "created_on",
)
_MOVED_LAST_IN_REPR = ("created_at", "is_locked", "created_on", "version_tag", "is_latest")


@dataclass(frozen=True)
class Meta:
    """Everything derived from a registry's declaration."""

    table: Table
    fields: tuple[str, ...]
    forward: dict[str, Forward]
    reverse: dict[str, Reverse]
    name_field: str
    versioned: bool
    has_branch: bool
    read_only: bool
    stem_length: int

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Table columns in field order (foreign keys as ``<name>_id``)."""
        return tuple(f + "_id" if f in self.forward else f for f in self.fields)

    @cached_property
    def select_all(self) -> Select[Any]:
        """``SELECT`` of every column in :attr:`columns` order, built once."""
        return select(*(self.table.c[c] for c in self.columns))

    def is_text(self, name: str) -> bool:
        column = self.table.c.get(name)
        return column is not None and name not in self.forward and isinstance(column.type, String | Text)

    @property
    def text_fields(self) -> tuple[str, ...]:
        """The fields LaminDB's search looks at: every char and text field."""
        return tuple(f for f in self.fields if self.is_text(f))

    @property
    def frame_columns(self) -> tuple[str, ...]:
        """``to_dataframe`` columns in LaminDB's order (the primary key included)."""
        return self.frame_columns_with(privates=False)

    def frame_columns_with(self, *, privates: bool) -> tuple[str, ...]:
        """The frame columns, with the private ``_`` fields when ``include="privates"``."""
        names = [f for f in self.fields
                 if f not in self.forward and f != "updated_at" and (privates or not f.startswith("_"))]
        for moved in _MOVED_LAST_IN_FRAMES:
            if moved in names:
                names.append(names.pop(names.index(moved)))
        names += [self.forward[f].column for f in self.fields if f in self.forward]
        if "uid" in names:
            names.insert(0, names.pop(names.index("uid")))
        names.insert(1, names.pop(names.index("id")))
        return tuple(names)

    @property
    def repr_fields(self) -> tuple[str, ...]:
        """The fields ``repr`` shows; a relation named without ``_id`` shows the related record."""
        if self.versioned:
            # LaminDB 2.12 does not recognise the versioned registry's keys as foreign keys: its repr
            # keeps them in field order and shows the related records themselves
            names = [f for f in self.fields if f not in ("id", "updated_at")]
        else:
            names = [f for f in self.fields if f not in self.forward and f not in ("id", "updated_at")]
            names += [self.forward[f].column for f in self.fields if f in self.forward]
        for moved in _MOVED_LAST_IN_REPR:
            if moved in names:
                names.append(names.pop(names.index(moved)))
        if "uid" in names:
            names.insert(0, names.pop(names.index("uid")))
        return tuple(n for n in names if not n.startswith("_"))

    @property
    def available(self) -> tuple[str, ...]:
        """Field names a query may use, as LaminDB lists them in its unknown-field error."""
        names = {f for f in self.fields if not f.startswith("_")}
        names |= {self.forward[f].column for f in self.forward}
        names |= set(self.reverse)
        return tuple(sorted(names))


_registries: dict[str, type[Record]] = {}


def register(cls: type[Record]) -> None:
    _registries[cls.__name__] = cls


def registry_named(name: str) -> type[Record]:
    return _registries[name]


def build_meta(
    table: Table,
    fields: tuple[str, ...],
    relations: tuple[Forward | Reverse, ...],
    *,
    name_field: str | None,
    versioned: bool,
    read_only: bool,
    stem_length: int = 16,
) -> Meta:
    """Check a declaration against its table and derive the rest."""
    forward = {r.name: r for r in relations if isinstance(r, Forward)}
    reverse = {r.name: r for r in relations if isinstance(r, Reverse)}
    missing = [f for f in fields if (forward[f].column if f in forward else f) not in table.c]
    if missing:
        raise TypeError(f"{table.name} has no columns for fields {missing}")
    meta_args: dict[str, Any] = {
        "table": table, "fields": fields, "forward": forward, "reverse": reverse,
        "versioned": versioned, "has_branch": "branch" in forward, "read_only": read_only,
        "stem_length": stem_length,
    }
    if name_field is None:
        probe = Meta(name_field="", **meta_args)
        if "name" in fields:
            name_field = "name"
        else:
            name_field = next(f for f in fields if "id" not in f and probe.is_text(f))
    return Meta(name_field=name_field, **meta_args)
