"""``count()``; on SQLite a count over one indexed text column reads that column's index, and the
default branch filter does not steer the count to the (unselective) branch index.

SQLite answers ``SELECT count(*) FROM t WHERE name LIKE '%x%'`` by scanning the
table, although the index on ``name`` holds every value the condition reads
in fewer pages. When the conditions of a count read a single text column of
the registry's own table and the database has an index on exactly that column,
the count names the index (``INDEXED BY``): the same rows, counted faster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.exc import DBAPIError

from syncd.registry.compiler import parse_path
from syncd.registry.likes import like_pattern

if TYPE_CHECKING:
    from syncd.registry.connection import Instance
    from syncd.registry.query import QuerySet
    from syncd.registry.record import Record

__all__ = ["count"]

_indexes: dict[tuple[int, str], dict[str, str]] = {}


def count(qs: QuerySet[Any]) -> int:
    """The number of matching records (one per matching related row when joined)."""
    instance = qs.instance
    if qs._limit is not None or qs._offset:
        stmt, _ = qs._compiled("id")
        counted = select(func.count()).select_from(stmt.order_by(None).subquery())
        with instance.read() as conn:
            return int(conn.execute(counted).scalar_one())
    quick = _single_like(qs)
    if quick is not None:
        return _count_like(qs, *quick)
    compiler, conditions = qs._where(unindexed_branch=_branch_among_others(qs))
    counted = select(func.count()).select_from(compiler.from_clause).where(*conditions)
    with instance.read() as conn:
        index = _covering_index(qs, conn) if compiler.from_clause is qs.model._meta.table else None
        if index is not None:
            return _count_indexed(conn, counted, qs.model._meta.table.name, index)
        return int(conn.execute(counted).scalar_one())


_LIKE_LOOKUPS = ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact")


def _single_like(qs: QuerySet[Any]) -> tuple[str, str, str] | None:
    """``(column, lookup, LIKE pattern)`` when the count is one text lookup that LIKE answers alone.

    On SQLite with LaminDB's rules any of the text lookups; on PostgreSQL (LaminDB's rules) those
    Django sends as ``LIKE`` or ``UPPER(..) LIKE UPPER(..)``.
    """
    instance = qs.instance
    if instance.case_rules != "database" or qs._distinct or qs._ranked is not None or len(qs._filters) != 1:
        return None
    (q,) = qs._filters
    if q.negated or len(q.children) != 1 or not isinstance(q.children[0], tuple):
        return None
    key, value = q.children[0]
    path = parse_path(qs.model, key)
    if (path.hops or path.transforms or path.lookup not in _LIKE_LOOKUPS or value is None
            or not qs.model._meta.is_text(path.column)):
        return None
    if instance.adapter.count_like_sql(qs.model._meta.table.name, path.column, path.lookup, None) is None:
        return None  # Django does not compile this lookup to LIKE on this database
    kind = path.lookup[1:] if path.lookup.startswith("i") else path.lookup
    return path.column, path.lookup, like_pattern(kind, str(value))


def _count_like(qs: QuerySet[Any], column: str, lookup: str, pattern: str) -> int:
    """The count as one statement sent as it is: the SQL LaminDB sends (on SQLite read through the
    column's index). Identifiers come from the registry's table definition and the database's index
    list; the pattern is bound."""
    table = qs.model._meta.table.name
    with qs.instance.read() as conn:
        index = _single_column_indexes(qs.instance, conn, table).get(column)
        sql = qs.instance.adapter.count_like_sql(table, column, lookup, index)
        assert sql is not None  # _like_count checked that this database counts the lookup with LIKE
        return int(conn.exec_driver_sql(sql, (pattern,)).scalar_one())


def _branch_among_others(qs: QuerySet[Any]) -> bool:
    """Whether a SQLite count has the default branch filter next to other conditions.

    Nearly every block is on the main branch, so the branch index narrows nothing; without it
    SQLite reads through the index of another condition (``kind``, ``space_id`` ...) instead.
    """
    if not qs.instance.like or qs._distinct:
        return False
    keys = [key for q in qs._filters for key in q.keys()]  # noqa: SIM118 - Q.keys() lists field paths
    return "branch_id__in" in keys and len(keys) > 1


def _covering_index(qs: QuerySet[Any], conn: Connection) -> str | None:
    """The index on the one column the conditions read, when there is one to count from (SQLite)."""
    instance = qs.instance
    if not instance.like or qs._distinct or qs._ranked is not None or not qs._filters:
        return None
    registry: type[Record] = qs.model
    columns = set()
    for q in qs._filters:
        for key in q.keys():  # noqa: SIM118 - Q.keys() lists field paths
            path = parse_path(registry, key)
            if path.hops or path.transforms or not registry._meta.is_text(path.column):
                return None
            columns.add(path.column)
    if len(columns) != 1:
        return None
    return _single_column_indexes(instance, conn, registry._meta.table.name).get(columns.pop())


def _single_column_indexes(instance: Instance, conn: Connection, table: str) -> dict[str, str]:
    """``{column: index}`` for the table's plain indexes on one column (read once per instance)."""
    key = (id(instance), table)
    if key not in _indexes:
        found: dict[str, str] = {}
        try:
            for column, name in instance.adapter.single_column_indexes(conn, table):
                found.setdefault(column, name)
        except DBAPIError:
            found = {}
        _indexes[key] = found
    return _indexes[key]


def _count_indexed(conn: Connection, counted: Select[Any], table: str, index: str) -> int:
    # SQLAlchemy renders no table hints for SQLite: the compiled text gets the INDEXED BY clause
    compiled = counted.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql = str(compiled)
    hinted = sql.replace(f"\nFROM {table} \n", f'\nFROM {table} INDEXED BY "{index}" \n', 1)
    if hinted == sql or compiled.positiontup is None:
        return int(conn.execute(counted).scalar_one())
    params = tuple(compiled.params[name] for name in compiled.positiontup)  # text values: no conversion
    return int(conn.exec_driver_sql(hinted, params).scalar_one())
