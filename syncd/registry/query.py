"""Lazy, immutable query sets: every method returns a new one; SQL runs on evaluation.

``SpaceBlock.filter(...)`` hides the trash (branch -1) and the archive (branch 0)
the way LaminDB does: each ``filter()`` call without an exact ``id``/``uid``/``hash``
(or ``__in`` of those) and without a ``branch`` condition adds ``branch_id in (1)``.
Query sets of a relation (``space.ablocks``) and ``exclude()`` do not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from sqlalchemy import Select, case, select
from sqlalchemy.sql.elements import ColumnElement

from syncd.registry.compiler import Compiler
from syncd.registry.connection import Instance, resolve
from syncd.registry.errors import FieldError
from syncd.registry.expressions import DEFAULT_BRANCH_IDS, checked_expressions, with_default_branch
from syncd.registry.fields import field_name
from syncd.registry.lookups import text_order
from syncd.registry.q import Q
from syncd.store.types import UTCDateTime

if TYPE_CHECKING:
    import pandas as pd

    from syncd.registry.lookup import Lookup
    from syncd.registry.record import Record

__all__ = ["DEFAULT_BRANCH_IDS", "QuerySet"]

R = TypeVar("R", bound="Record")



class QuerySet(Generic[R]):
    """Records of one registry matching conditions; nothing is read until it is evaluated."""

    __slots__ = ("_basic", "_distinct", "_filters", "_instance", "_limit", "_offset", "_order", "_ranked",
                 "_ranked_rows", "_registry", "_using")

    def __init__(
        self, registry: type[R], using: str | Instance | None = None, *, basic: bool = False,
    ) -> None:
        self._registry = registry
        self._using = using
        self._instance: Instance | None = using if isinstance(using, Instance) else None
        self._basic = basic
        self._filters: tuple[Q, ...] = ()
        self._order: tuple[str, ...] = ()
        self._offset = 0
        self._limit: int | None = None
        self._ranked: tuple[int, ...] | None = None
        self._distinct = False
        # the rows a search read while ranking, in rank order: iterating the result reads them again otherwise
        self._ranked_rows: tuple[Any, ...] | None = None

    # ---- building ---------------------------------------------------------------------------------

    def _clone(self, **changes: Any) -> QuerySet[R]:
        new: QuerySet[R] = QuerySet.__new__(QuerySet)
        for slot in QuerySet.__slots__:
            setattr(new, slot, getattr(self, slot))
        new._ranked_rows = None
        for name, value in changes.items():
            setattr(new, "_" + name, value)
        return new

    @property
    def model(self) -> type[R]:
        return self._registry

    @property
    def instance(self) -> Instance:
        if self._instance is None:
            self._instance = resolve(self._using)
        return self._instance

    @property
    def is_sliced(self) -> bool:
        return self._offset != 0 or self._limit is not None or self._ranked is not None

    def _check_not_sliced(self, action: str) -> None:
        if self.is_sliced:
            raise TypeError(f"Cannot {action} a query once a slice has been taken.")

    def _default_branch(self, queries: tuple[Q, ...], expressions: dict[str, Any]) -> dict[str, Any]:
        if self._basic or not self._registry._meta.has_branch:
            return expressions
        return with_default_branch(queries, expressions)

    def filter(self, *queries: Q, **expressions: Any) -> QuerySet[R]:
        """Records matching every condition: ``Q`` objects and ``field__lookup=value`` keywords."""
        self._check_not_sliced("filter")
        if not self._basic:
            expressions = checked_expressions(self._registry, expressions)
        expressions = self._default_branch(queries, expressions)
        if not queries and not expressions:
            return self._clone()
        condition = Q(*queries, **expressions)
        self._validate(condition)
        return self._clone(filters=(*self._filters, condition))

    def exclude(self, *queries: Q, **expressions: Any) -> QuerySet[R]:
        """Records matching none of the conditions taken together."""
        self._check_not_sliced("filter")
        condition = ~Q(*queries, **expressions)
        self._validate(condition)
        return self._clone(filters=(*self._filters, condition))

    def _validate(self, condition: Q) -> None:
        from syncd.registry.compiler import parse_path

        for key in condition.keys():  # noqa: SIM118 - Q.keys() lists field paths
            parse_path(self._registry, key)

    def all(self) -> QuerySet[R]:
        return self._clone()

    def distinct(self) -> QuerySet[R]:
        """Each record once, however many related rows a filter across a reverse relation matched."""
        self._check_not_sliced("create distinct fields")
        return self._clone(distinct=True)

    def order_by(self, *given: Any) -> QuerySet[R]:
        """Sort by fields (or field objects), ``-field`` for descending; related paths allowed.

        NULLs come where the database puts them (first on SQLite, last on PostgreSQL, in
        ascending order), as with LaminDB; with ``case_rules="portable"`` first on both.
        """
        self._check_not_sliced("reorder")
        from syncd.registry.compiler import parse_path

        fields = [field_name(f, argument="order_by") for f in given]
        for name in fields:
            if not isinstance(name, str) or not name.lstrip("-"):
                raise FieldError(f"order_by takes field names, not {name!r}")
            parse_path(self._registry, name.lstrip("-"), allow_lookup=False)
        return self._clone(order=tuple(fields))

    def using(self, instance: str | Instance | None) -> QuerySet[R]:
        return self._clone(using=instance, instance=instance if isinstance(instance, Instance) else None)

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> QuerySet[R]: ...

    def __getitem__(self, index: int | slice) -> R | QuerySet[R]:
        if isinstance(index, int):
            if index < 0:
                raise ValueError("Negative indexing is not supported.")
            rows = self._window(index, 1)._fetch()
            if not rows:
                raise IndexError("query set index out of range")
            return rows[0]
        if not isinstance(index, slice):
            raise TypeError(f"query sets are indexed by int or slice, not {type(index).__name__}")
        start, stop = index.start or 0, index.stop
        if start < 0 or (stop is not None and stop < 0):
            raise ValueError("Negative indexing is not supported.")
        window = self._window(start, None if stop is None else max(stop - start, 0))
        if index.step not in (None, 1):
            # as Django: a step evaluates the query set and gives a list
            return window._fetch()[::index.step]  # type: ignore[return-value]
        return window

    def _window(self, start: int, count: int | None) -> QuerySet[R]:
        offset = self._offset + start
        limit = count
        if self._limit is not None:
            remaining = max(self._limit - start, 0)
            limit = remaining if count is None else min(count, remaining)
        return self._clone(offset=offset, limit=limit)

    # ---- SQL --------------------------------------------------------------------------------------

    def _where(self, *, unindexed_branch: bool = False) -> tuple[Compiler, list[ColumnElement[bool]]]:
        instance = self.instance
        table = self._registry._meta.table
        portable = instance.case_rules == "portable"
        compiler = Compiler(self._registry, instance.adapter, like=instance.like, portable=portable,
                            unindexed_branch=unindexed_branch)
        if self._distinct and self._filters:
            # the filters (and their joins) go into a subquery of ids: each record comes once
            inner = Compiler(self._registry, instance.adapter, base=table.alias(), like=instance.like,
                             portable=portable)
            matched = [inner.condition(q, group) for group, q in enumerate(self._filters, start=1)]
            ids = select(inner.base.c.id).select_from(inner.from_clause).where(*matched)
            conditions: list[ColumnElement[bool]] = [table.c.id.in_(ids)]
        else:
            conditions = [compiler.condition(q, group) for group, q in enumerate(self._filters, start=1)]
        if self._ranked is not None:
            conditions.append(table.c.id.in_(self._ranked))
        return compiler, conditions

    def _compiled(self, *columns: str, raw_datetimes: bool = False) -> tuple[Select[Any], Compiler]:
        meta = self._registry._meta
        compiler, conditions = self._where()
        order: list[ColumnElement[Any]] = []
        if self._ranked is not None and not self._order:
            if self._ranked:
                order.append(case({pk: n for n, pk in enumerate(self._ranked)}, value=meta.table.c.id))
        else:
            # unordered query sets send no ORDER BY, as LaminDB's do: the database's own order
            order = self._order_clauses(compiler, self._order)
        base = (select(*(self._selected(compiler, c, raw_datetimes) for c in columns)) if columns
                else meta.select_all)
        stmt = base.select_from(compiler.from_clause).where(*conditions).order_by(*order)
        if self._limit is not None:
            stmt = stmt.limit(self._limit)
        if self._offset:
            stmt = stmt.offset(self._offset)
        return stmt, compiler

    @staticmethod
    def _selected(compiler: Compiler, name: str, raw_datetimes: bool) -> ColumnElement[Any]:
        expr, path = compiler.column(name)
        if raw_datetimes and not path.transforms and isinstance(
                path.registry._meta.table.c[path.column].type, UTCDateTime):
            # SQLite: the stored UTC text, parsed in bulk by pandas
            return compiler.dialect.raw_datetime(expr)
        return expr

    def _order_clauses(self, compiler: Compiler, fields: Sequence[str]) -> list[ColumnElement[Any]]:
        clauses: list[ColumnElement[Any]] = []
        portable = self.instance.case_rules == "portable"
        for name in fields:
            expr, path = compiler.column(name.lstrip("-"))
            if not portable:
                # as LaminDB: the database's collation, and its place for NULLs (first on SQLite,
                # last on PostgreSQL in ascending order)
                clauses.append(expr.desc() if name.startswith("-") else expr.asc())
                continue
            if not path.transforms and path.registry._meta.is_text(path.column):
                expr = text_order(expr, compiler.dialect)
            clauses.append(expr.desc().nulls_last() if name.startswith("-") else expr.asc().nulls_first())
        return clauses

    def _fetch(self) -> list[R]:
        instance = self.instance
        names = self._registry._meta.columns
        make = self._registry._from_row
        if self._ranked_rows is not None:
            return [make(dict(zip(names, row, strict=True)), instance) for row in self._ranked_rows]
        stmt, _ = self._compiled()
        with instance.read() as conn:
            rows = conn.execute(stmt).all()
        return [make(dict(zip(names, row, strict=True)), instance) for row in rows]

    def _values(self, *fields: str, raw_datetimes: bool = False) -> list[tuple[Any, ...]]:
        stmt, _ = self._compiled(*fields, raw_datetimes=raw_datetimes)
        with self.instance.read() as conn:
            return [tuple(row) for row in conn.execute(stmt).all()]

    # ---- evaluation -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[R]:
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return self.exists()

    def count(self) -> int:
        """The number of matching records (one per matching related row when joined)."""
        from syncd.registry.counting import count

        return count(self)

    def exists(self) -> bool:
        stmt, _ = self._compiled("id")
        with self.instance.read() as conn:
            return conn.execute(stmt.limit(1) if self._limit is None else stmt).first() is not None

    def first(self) -> R | None:
        """The first record (by id unless ordered), or None."""
        ordered = self if self._order or self._ranked is not None else self._clone(order=("id",))
        rows = ordered._window(0, 1)._fetch()
        return rows[0] if rows else None

    def last(self) -> R | None:
        """The last record (by id unless ordered), or None."""
        self._check_not_sliced("reverse")
        order = self._order or ("id",)
        flipped = tuple(o[1:] if o.startswith("-") else "-" + o for o in order)
        rows = self._clone(order=flipped)._window(0, 1)._fetch()
        return rows[0] if rows else None

    def one(self) -> R:
        """Exactly one record; :class:`DoesNotExist` or :class:`MultipleObjectsReturned` otherwise."""
        return self._one(raise_missing=True)  # type: ignore[return-value]

    def one_or_none(self) -> R | None:
        """The record if there is exactly one, None if there is none; raises if there are several."""
        return self._one(raise_missing=False)

    def _one(self, *, raise_missing: bool, message: str | None = None, raise_many: bool = True) -> R | None:
        rows = self._window(0, 2)._fetch()
        if not rows:
            if raise_missing:
                raise self._registry.DoesNotExist(
                    message or f"No {self._registry.__name__} matches the query.")
            return None
        if len(rows) > 1 and raise_many:
            raise self._registry.MultipleObjectsReturned(
                f"more than one {self._registry.__name__} matches the query; add conditions or use first()")
        return rows[0]

    def to_list(self, field: Any = None) -> list[Any]:
        """The records, or the values of one field (a related path such as ``space__name`` too).

        Unless the query set is ordered, the values come in the database's order, as LaminDB's do.
        """
        if field is None:
            return self._fetch()
        return [row[0] for row in self._values(field_name(field, argument="to_list"))]

    def values_list(self, *fields: Any, flat: bool = False) -> list[Any]:
        """Tuples of field values (every field when none is named); ``flat=True``: the values of one field."""
        names = [field_name(f, argument="values_list") for f in fields] or list(self._registry._meta.columns)
        if flat and len(names) != 1:
            raise TypeError("'flat' is not valid when values_list is called with more than one field.")
        rows = self._values(*names)
        return [row[0] for row in rows] if flat else rows

    def values(self, *fields: Any) -> list[dict[str, Any]]:
        """Dictionaries of field values (every field, foreign keys as ``<name>_id``, when none is named)."""
        names = [field_name(f, argument="values") for f in fields] or list(self._registry._meta.columns)
        return [dict(zip(names, row, strict=True)) for row in self._values(*names)]

    def get(self, idlike: int | str | None = None, **expressions: Any) -> R:
        """One record by id, uid, uid stub or stem, or by expressions; see :func:`syncd.registry.get`."""
        from syncd.registry.get import get

        return get(self, idlike, **expressions)

    def to_dataframe(
        self, *, include: str | list[str] | None = None, features: bool | str | list[str] | None = None,
        limit: int | None = 20, order_by: str | None = "-id",
    ) -> pd.DataFrame:
        """A DataFrame indexed by id with LaminDB's columns; 20 rows newest first unless told otherwise."""
        from syncd.registry.frame import to_dataframe

        return to_dataframe(self, include=include, features=features, limit=limit, order_by=order_by)

    def df(
        self, include: str | list[str] | None = None, features: bool | str | list[str] | None = None,
    ) -> pd.DataFrame:
        """Deprecated spelling of :meth:`to_dataframe`."""
        import warnings

        warnings.warn("df() is deprecated, use to_dataframe()", DeprecationWarning, stacklevel=2)
        return self.to_dataframe(include=include, features=features)

    def search(
        self, string: str, *, field: str | list[str] | None = None, limit: int | None = 20,
        case_sensitive: bool = False,
    ) -> QuerySet[R]:
        from syncd.registry.search import search

        return search(self, string, field=field, limit=limit, case_sensitive=case_sensitive)

    def lookup(
        self, field: str | None = None, return_field: str | None = None,
        keep: Literal["first", "last", False] = "first",
    ) -> Lookup:
        from syncd.registry.lookup import lookup

        return lookup(self, field=field, return_field=return_field, keep=keep)

    def delete(self, permanent: bool | None = None) -> int:
        """Delete every matching local record; blocks go to the trash unless ``permanent=True``."""
        from syncd.registry.writes import delete_records

        return delete_records(self._registry, self.instance, self._fetch(), permanent=permanent,
                              soft_allowed=True)

    def _with_ranked(self, ids: Sequence[int], rows: Sequence[Any] | None = None) -> QuerySet[R]:
        """The records ``ids`` in that order; ``rows``: their rows (all columns), already read."""
        return self._clone(ranked=tuple(ids), order=(), ranked_rows=None if rows is None else tuple(rows))

    def __repr__(self) -> str:
        rows = self._window(0, 21)._fetch()
        shown = ", ".join(repr(r) for r in rows[:20]) + (", ..." if len(rows) > 20 else "")
        return f"<QuerySet [{shown}]>"
