"""``get(field=value, ...)`` on plain fields of a registry without versions or branches, prepared once.

``Space.get(name="Lab A")`` means ``SELECT ... WHERE name = ? LIMIT 2`` (no
order, as LaminDB's); the statement is built once per registry and set of
fields, and each value is checked and converted as a filter checks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, and_, bindparam

from syncd.registry.values import prepare

if TYPE_CHECKING:
    from syncd.registry.query import QuerySet
    from syncd.registry.record import Record

__all__ = ["get_by_fields"]

R = TypeVar("R", bound="Record")
_statements: dict[tuple[str, tuple[str, ...]], Select[Any]] = {}


def _eligible(qs: QuerySet[Any], expressions: dict[str, Any]) -> bool:
    meta = qs.model._meta
    if meta.versioned or meta.has_branch or qs._filters or qs.is_sliced or qs._distinct or not expressions:
        return False
    return all(key in meta.columns and key not in meta.forward and value is not None
               and not isinstance(value, list | tuple | set | dict) for key, value in expressions.items())


def get_by_fields(qs: QuerySet[R], expressions: dict[str, Any]) -> R | None:
    """The record the expressions name, raising as ``get`` does; ``None`` when this path does not apply."""
    if not _eligible(qs, expressions):
        return None
    registry = qs.model
    meta = registry._meta
    keys = tuple(sorted(expressions))
    statement = _statements.get((registry.__name__, keys))
    if statement is None:
        table = meta.table
        condition = and_(*(table.c[k] == bindparam(k, type_=table.c[k].type) for k in keys))
        statement = _statements[(registry.__name__, keys)] = meta.select_all.where(condition).limit(2)
    named = {k: "id" if k.endswith("_id") else k for k in keys}
    params = {k: prepare(meta.table.c[k].type, expressions[k], named[k]) for k in keys}
    with qs.instance.read() as conn:
        rows = conn.execute(statement, params).all()
    if not rows:
        raise registry.DoesNotExist(f"{registry.__name__} matching query does not exist.")
    if len(rows) > 1:
        raise registry.MultipleObjectsReturned(
            f"more than one {registry.__name__} matches the query; add conditions or use first()")
    return registry._from_row(dict(zip(meta.columns, rows[0], strict=True)), qs.instance)
