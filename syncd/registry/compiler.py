"""Turn field paths (``space__name__istartswith``) and ``Q`` trees into SQL over joined tables.

Forward relations are LEFT OUTER JOINs shared by the whole query. A reverse
relation (``ablocks__kind``) joins once per ``filter()`` call, so conditions in
one call must hold for the same related row and a record appears once per
matching related row, as with Django; under negation (``exclude``, ``~Q``) it
becomes ``NOT EXISTS`` over the related rows instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    and_,
    exists,
    false,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from syncd.errors import UnsupportedQuery
from syncd.registry.errors import FieldError, InvalidArgument, from_store
from syncd.registry.lookups import LOOKUPS, TRANSFORMS, apply_lookup, apply_transform
from syncd.registry.model import Forward, Reverse, registry_named
from syncd.registry.q import Q
from syncd.registry.values import prepare, prepare_datetime
from syncd.store.dialects import Dialect
from syncd.store.types import UTCDateTime

if TYPE_CHECKING:
    from syncd.registry.record import Record

__all__ = ["Compiler", "Path", "parse_path"]


@dataclass(frozen=True)
class Path:
    """A parsed key: relation hops, the column at the end, transforms, and the lookup."""

    hops: tuple[Forward | Reverse, ...]
    registry: type[Record]
    column: str
    transforms: tuple[str, ...]
    lookup: str


def _unknown_field(registry: type[Record], name: str) -> FieldError:
    fields = ", ".join(registry._meta.available)
    return FieldError(f"Unknown field '{name}'. Available fields: {fields}")


def parse_path(registry: type[Record], key: str, *, allow_lookup: bool = True) -> Path:
    """Resolve ``a__b__c__lookup`` against the registries; :class:`FieldError` names what is wrong."""
    cache_key = (registry.__name__, key, allow_lookup)
    found = _parsed.get(cache_key)
    if found is None:
        found = _parse(registry, key, allow_lookup)
        if len(_parsed) < _PARSED_LIMIT:
            _parsed[cache_key] = found
    return found


# paths are parsed once: a query names the same few paths again and again
_PARSED_LIMIT = 4096
_parsed: dict[tuple[str, str, bool], Path] = {}


def _parse(registry: type[Record], key: str, allow_lookup: bool) -> Path:
    parts = key.split("__")
    if not all(parts):
        raise FieldError(f"malformed field path {key!r}")
    hops: list[Forward | Reverse] = []
    current = registry
    i = 0
    while True:
        part = parts[i]
        meta = current._meta
        rest = parts[i + 1:]
        relation = meta.forward.get(part) or meta.reverse.get(part)
        if part == "pk":
            part = "id"
        if relation is not None and (not rest or (rest[0] in LOOKUPS and allow_lookup)):
            # comparing the relation itself compares keys: the column, or the related id
            if isinstance(relation, Forward):
                return _finish(registry, key, tuple(hops), current, relation.column, rest, allow_lookup)
            assert relation.target is not None
            hops.append(relation)
            return _finish(registry, key, tuple(hops), registry_named(relation.target), "id", rest,
                           allow_lookup, relation_key=True)
        if relation is not None:
            if relation.target is None:
                raise FieldError(f"{key!r}: the registry behind '{part}' is not available here; "
                                 f"filter on {part}_id instead")
            hops.append(relation)
            current = registry_named(relation.target)
            i += 1
            continue
        if part in meta.columns:
            return _finish(registry, key, tuple(hops), current, part, rest, allow_lookup)
        raise _unknown_field(current, part)


def _finish(
    root: type[Record], key: str, hops: tuple[Forward | Reverse, ...], registry: type[Record], column: str,
    rest: list[str], allow_lookup: bool, *, relation_key: bool = False,
) -> Path:
    is_datetime = isinstance(registry._meta.table.c[column].type, UTCDateTime)
    transforms: list[str] = []
    while rest and is_datetime and rest[0] in TRANSFORMS and not transforms:
        transforms.append(rest.pop(0))
    lookup = "exact"
    if rest and allow_lookup:
        lookup = rest.pop(0)
        if lookup not in LOOKUPS:
            valid = ", ".join(LOOKUPS + (TRANSFORMS if is_datetime and not transforms else ()))
            raise FieldError(f"Unsupported lookup '{lookup}' for field '{column}' in {key!r}. "
                             f"Valid lookups: {valid}")
    if (relation_key or _is_key(registry, column)) and lookup not in RELATED_LOOKUPS:
        raise FieldError(f"Related Field got invalid lookup: {lookup}")
    if isinstance(registry._meta.table.c[column].type, JSON) and lookup not in ("exact", "in", "isnull",
                                                                               "contains"):
        raise FieldError(f"JSON field '{column}' supports exact, in, isnull and contains, not '{lookup}'")
    if rest:
        if not allow_lookup:
            raise FieldError(f"{key!r}: '{rest[0]}' is not a field of {registry.__name__}; "
                             f"valid fields: {', '.join(registry._meta.available)}")
        raise FieldError(f"{key!r}: nothing may follow the lookup '{lookup}'")
    return Path(hops, registry, column, tuple(transforms), lookup)


# the lookups Django allows on a relation or a foreign key column
RELATED_LOOKUPS = ("exact", "in", "gt", "gte", "lt", "lte", "isnull")


def _is_key(registry: type[Record], column: str) -> bool:
    """Whether ``column`` is a foreign key column (``space_id``)."""
    return column.endswith("_id") and column[:-3] in registry._meta.forward


def _key_value(value: Any) -> Any:
    """Records compare by their id."""
    from syncd.registry.record import Record

    if isinstance(value, Record):
        return value.id
    if isinstance(value, list | tuple | set | frozenset):
        return [v.id if isinstance(v, Record) else v for v in value]
    return value


class Compiler:
    """Builds the FROM clause and conditions for one query on one registry."""

    def __init__(
        self, registry: type[Record], dialect: Dialect, base: FromClause | None = None, *, like: bool = False,
        portable: bool = False, unindexed_branch: bool = False,
    ) -> None:
        self.registry = registry
        self.dialect = dialect
        self.like = like
        self.portable = portable
        # the branch filter keeps nearly every row: read through another condition's index instead
        self.unindexed_branch = unindexed_branch
        self.base: FromClause = base if base is not None else registry._meta.table
        self._from: FromClause = self.base
        self._aliases: dict[tuple[int, tuple[str, ...]], FromClause] = {}

    @property
    def from_clause(self) -> FromClause:
        return self._from

    def _join(self, group: int, hops: tuple[Forward | Reverse, ...]) -> FromClause:
        """The alias at the end of ``hops``, joining what is missing."""
        current = self.base
        for n, hop in enumerate(hops):
            scope = group if any(isinstance(h, Reverse) for h in hops[: n + 1]) else 0
            key = (scope, tuple(h.name for h in hops[: n + 1]))
            alias = self._aliases.get(key)
            if alias is None:
                assert hop.target is not None
                target = registry_named(hop.target)._meta.table.alias()
                if isinstance(hop, Forward):
                    onclause = target.c.id == current.c[hop.column]
                else:
                    onclause = target.c[hop.column] == current.c.id
                self._from = self._from.outerjoin(target, onclause)
                self._aliases[key] = alias = target
            current = alias
        return current

    def column(self, key: str) -> tuple[ColumnElement[Any], Path]:
        """The column a path without lookup names (for ordering and values), joining as needed."""
        path = parse_path(self.registry, key, allow_lookup=False)
        table = self._join(0, path.hops)
        expr: ColumnElement[Any] = table.c[path.column]
        for name in path.transforms:
            expr = apply_transform(expr, name, self.dialect)
        return expr, path

    def condition(self, q: Q, group: int, negated: bool = False) -> ColumnElement[bool]:
        """SQL for a ``Q`` tree; ``negated`` tells whether an enclosing NOT applies."""
        inner_negated = negated != q.negated
        parts = [
            self.condition(child, group, inner_negated) if isinstance(child, Q)
            else self._leaf(child[0], child[1], group, inner_negated)
            for child in q.children
        ]
        if not parts:
            combined: ColumnElement[bool] = true()
        elif q.connector == Q.OR:
            combined = or_(*parts)
        else:
            combined = and_(*parts)
        return not_(combined) if q.negated else combined

    def _leaf(self, key: str, value: Any, group: int, negated: bool) -> ColumnElement[bool]:
        path = parse_path(self.registry, key)
        reverse_at = next((n for n, h in enumerate(path.hops) if isinstance(h, Reverse)), None)
        if negated and reverse_at is not None:
            return self._exists(path, reverse_at, key, value, group)
        table = self._join(group, path.hops)
        return self._compare(table, path, value, negated)

    def _compare(self, table: FromClause, path: Path, value: Any, negated: bool) -> ColumnElement[bool]:
        meta = path.registry._meta
        expr: ColumnElement[Any] = table.c[path.column]
        if isinstance(expr.type, Boolean):
            expr = self.dialect.boolean_filter(expr)
        for name in path.transforms:
            expr = apply_transform(expr, name, self.dialect)
        if self.unindexed_branch and path.column == "branch_id" and not path.hops and path.lookup == "in":
            expr = expr + 0  # SQLite uses no index for an expression
        value = _key_value(value)
        if isinstance(meta.table.c[path.column].type, JSON):
            return _json_compare(expr, path, value, self.dialect)
        if path.transforms == ("year",) and path.lookup in _YEAR_BOUNDS and value is not None:
            # as Django: a year compares the datetime with the year's first or last instant, which
            # also finds 9999-12-31 23:59:59.999999 (SQLite's strftime rounds it into year 10000)
            column = table.c[path.column]
            year = prepare(None, value, path.column)
            clause = _year_bound(column, path.lookup, year)
            return and_(clause, column.is_not(None)) if negated else clause
        clause = apply_lookup(
            expr, path.lookup, value, dialect=self.dialect,
            is_text=not path.transforms and meta.is_text(path.column), prep=self._preparer(path),
            like=self.like, code_points=self.portable,
        )
        if negated and path.lookup != "isnull" and not (path.lookup == "exact" and value is None):
            # as Django does: NOT (x = v) must also keep rows where x is NULL
            clause = and_(clause, expr.is_not(None))
        return clause

    def _preparer(self, path: Path) -> Callable[[Any], Any]:
        """How a value compared with the path's column (or date part) is checked and converted."""
        column = path.column
        if path.transforms == ("date",):
            dialect = self.dialect

            def day(value: Any) -> Any:
                return dialect.date_value(prepare_datetime(value, column))

            return day
        column_type = None if path.transforms else path.registry._meta.table.c[column].type
        # a key is checked as the id it refers to, as Django names it in its error
        named = "id" if column.endswith("_id") else column
        return lambda value: prepare(column_type, value, named)

    def _exists(self, path: Path, reverse_at: int, key: str, value: Any, group: int) -> ColumnElement[bool]:
        outer = self._join(group, path.hops[:reverse_at])
        hop = path.hops[reverse_at]
        assert isinstance(hop, Reverse)
        target_registry = registry_named(hop.target)
        target = target_registry._meta.table.alias()
        inner = Compiler(target_registry, self.dialect, base=target, like=self.like, portable=self.portable)
        rest = path.hops[reverse_at + 1:]
        leaf_table = inner._join(0, rest)
        clause = inner._compare(leaf_table, path, value, negated=False)
        subquery = select(target.c.id).select_from(inner.from_clause).where(
            target.c[hop.column] == outer.c.id, clause)
        return exists(subquery)


_YEAR_BOUNDS = ("exact", "gt", "gte", "lt", "lte")


def _year_bound(column: ColumnElement[Any], lookup: str, year: int) -> ColumnElement[bool]:
    try:
        first = datetime(year, 1, 1, tzinfo=UTC)
        last = datetime(year, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    except ValueError:
        raise InvalidArgument(f"year {year} is out of range") from None
    if lookup == "exact":
        return and_(column >= first, column <= last)
    return {"gt": column > last, "gte": column >= first, "lt": column < first, "lte": column <= last}[lookup]


def _json_compare(expr: ColumnElement[Any], path: Path, value: Any, dialect: Dialect) -> ColumnElement[bool]:
    """JSON equality as Django does it: the stored JSON value equals ``value`` encoded as JSON."""
    if path.lookup == "isnull":
        return expr.is_(None) if value else expr.is_not(None)
    if path.lookup == "contains":
        # PostgreSQL's JSONB containment, as Django's; Django has no JSON contains on SQLite
        try:
            return dialect.json_contains(expr, json.dumps(value))
        except UnsupportedQuery as exc:
            raise from_store(exc) from None
    values = value if path.lookup == "in" else [value]
    if path.lookup not in ("exact", "in") or not isinstance(values, list | tuple):
        raise FieldError(f"JSON field '{path.column}' supports exact, in and isnull lookups")
    encoded = [json.dumps(v) for v in values]
    matches = [dialect.json_equal(expr, e) for e in encoded]
    return or_(*matches) if matches else false()


