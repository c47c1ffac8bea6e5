"""``get``: one record by id, full uid, uid stub, 16-character stem, or expressions, as LaminDB resolves it.

* an ``int`` is the local id (``True`` is 1, as in LaminDB);
* with an id or uid, further expressions are ignored, as LaminDB ignores them;
* a string is a uid prefix. For versioned registries (``SpaceBlock``) a string of
  at most 16 characters is a stem: the latest version wins, and only when no
  version is latest does a non-latest one count; several matches are never an
  error. Otherwise a prefix matching several records raises
  :class:`MultipleObjectsReturned`. Id and uid look-ups ignore the default
  branch filter, so trashed and archived blocks are found by uid.
* expressions go through ``filter`` (branch filter included); for versioned
  registries ``is_latest=True`` is implied, and when that finds nothing the
  newest matching version is returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.sql.elements import ColumnElement

from syncd.registry.errors import FieldError, InvalidArgument, ValidationError
from syncd.registry.expressions import checked_expressions
from syncd.registry.get_fields import get_by_fields
from syncd.registry.likes import like_escape
from syncd.registry.uidranges import case_ranges
from syncd.store.dialects import Dialect

if TYPE_CHECKING:
    from syncd.registry.query import QuerySet
    from syncd.registry.record import Record

__all__ = ["get"]

R = TypeVar("R", bound="Record")


def get(qs: QuerySet[R], idlike: Any = None, **expressions: Any) -> R:
    registry = qs.model
    name = registry.__name__
    basic = qs._clone(basic=True)
    # as LaminDB: an id or uid decides alone, and further expressions are not looked at
    if isinstance(idlike, int):
        found = basic.filter(id=idlike)._one(
            raise_missing=True, message=f"{name} matching query does not exist.")
        assert found is not None
        return found
    if isinstance(idlike, str):
        return _by_uid(basic, idlike)
    if idlike is not None:
        raise InvalidArgument(f"{name}.get() takes an int id or a uid string, not {type(idlike).__name__}")
    if not qs._basic:
        expressions = checked_expressions(registry, expressions, refuse_words=False)
    try:
        return _by_expressions(qs, dict(expressions))
    except ValidationError:
        raise
    except InvalidArgument as exc:
        if "expected a number" not in str(exc) or "id" in expressions or not expressions:
            raise
        key, value = next(iter(expressions.items()))
        raise FieldError(f"Invalid lookup '{value}' for {key}. Did you mean {key}__name?") from None


def _by_expressions(qs: QuerySet[R], expressions: dict[str, Any]) -> R:
    registry = qs.model
    name = registry.__name__
    meta = registry._meta
    direct = get_by_fields(qs, expressions)
    if direct is not None:
        return direct
    # a relation's query set (space.ablocks) gets as Django does, without the implied is_latest
    implied_latest = meta.versioned and "is_latest" not in expressions and not qs._basic
    if implied_latest:
        expressions["is_latest"] = True
    try:
        found = qs.filter(**expressions)._one(
            raise_missing=True, message=f"{name} matching query does not exist.")
    except registry.DoesNotExist:
        if not implied_latest:
            raise
        expressions.pop("is_latest")
        newest = qs.filter(**expressions).order_by("-created_at").first()
        if newest is None:
            raise
        return newest
    assert found is not None
    return found


def _by_uid(basic: QuerySet[R], idlike: str) -> R:
    registry = basic.model
    meta = registry._meta
    message = (f"No record found with uid '{idlike}'. "
               f"Did you forget a keyword as in {registry.__name__}.get({meta.name_field}='{idlike}')?")
    if _direct_allowed(basic, idlike):
        return _direct(basic, idlike, message)
    if meta.versioned and len(idlike) <= meta.stem_length:
        latest = basic.filter(uid__startswith=idlike, is_latest=True)
        candidates = latest if latest.exists() else basic.filter(uid__startswith=idlike, is_latest=False)
        found = candidates._one(raise_missing=True, message=message, raise_many=False)
    else:
        found = basic.filter(uid__startswith=idlike)._one(raise_missing=True, message=message)
    assert found is not None
    return found


# The registry-wide get by uid is the hottest path: it runs prepared statements, built once per registry.


def _direct_allowed(qs: QuerySet[R], idlike: str) -> bool:
    if qs._filters or qs.is_sliced or not idlike:
        return False
    last = ord(idlike[-1])
    return last < 0x10FFFF and not 0xD7FF <= last <= 0xDFFF


_statements: dict[tuple[str, Dialect, bool, bool, int, bool], Select[Any]] = {}


def _statement(
    registry: type[Record], dialect: Dialect, versioned: bool, like: bool, ranges: int, whole: bool,
) -> Select[Any]:
    key = (registry.__name__, dialect, versioned, like, ranges, whole)
    if key not in _statements:
        _statements[key] = _build_statement(registry, dialect, versioned, like, ranges, whole)
    return _statements[key]


def _whole_uid(registry: type[Record], idlike: str, like: bool, dialect: Dialect) -> bool:
    """Whether ``idlike`` fills the uid column, so that (matched case-sensitively) it can only be equal."""
    length = getattr(registry._meta.table.c.uid.type, "length", None)
    return not like and dialect.bounds_text_length and length is not None and len(idlike) == length


def _build_statement(
    registry: type[Record], dialect: Dialect, versioned: bool, like: bool, ranges: int, whole: bool,
) -> Select[Any]:
    table = registry._meta.table
    uid = table.c.uid
    if whole:
        # a prefix as long as the column is the uid itself: the unique index, whatever the
        # parameter (a bound LIKE pattern cannot use an index in a prepared statement's plan)
        condition: ColumnElement[bool] = uid == bindparam("uid")
    elif like or not dialect.like_folds_case:
        # a LIKE that ignores ASCII case (SQLite's) finds uid "qq00..." by "QQ00", as LaminDB does there
        condition = uid.like(bindparam("pattern"), escape="\\")
        if ranges:
            # the same rows through the uid index: the ranges of the prefix's case variants
            spans = [and_(uid >= bindparam(f"low{n}"), uid < bindparam(f"high{n}")) for n in range(ranges)]
            condition = and_(or_(*spans), condition)
    else:
        condition = and_(uid >= bindparam("low"), uid < bindparam("high"))
    if versioned:
        condition = and_(condition, dialect.boolean_filter(table.c.is_latest) == bindparam("latest"))
    columns = [table.c[c] for c in registry._meta.columns]
    stmt = select(*columns).where(condition).limit(2)
    # LaminDB's LIKE scans the table in id order, so its first two matches are the lowest ids
    return stmt.order_by(table.c.id) if ranges else stmt


def _direct(qs: QuerySet[R], idlike: str, message: str) -> R:
    registry = qs.model
    meta = registry._meta
    instance = qs.instance
    params: dict[str, Any] = {
        "uid": idlike, "pattern": like_escape(idlike) + "%",
        "low": idlike, "high": idlike[:-1] + chr(ord(idlike[-1]) + 1),
    }
    stem = meta.versioned and len(idlike) <= meta.stem_length
    ranges = case_ranges(idlike) if instance.like else None
    for n, (low, high) in enumerate(ranges or []):
        params[f"low{n}"], params[f"high{n}"] = low, high
    whole = _whole_uid(registry, idlike, instance.like, instance.adapter)
    statement = _statement(registry, instance.adapter, stem, instance.like, len(ranges or []), whole)
    with instance.read() as conn:
        if stem:
            rows = conn.execute(statement, {**params, "latest": 1}).all()
            if not rows:
                rows = conn.execute(statement, {**params, "latest": 0}).all()
        else:
            rows = conn.execute(statement, params).all()
    if not rows:
        raise registry.DoesNotExist(message)
    if len(rows) > 1 and not stem:
        raise registry.MultipleObjectsReturned(
            f"more than one {registry.__name__} has a uid starting with '{idlike}'; give more of the uid")
    return registry._from_row(dict(zip(meta.columns, rows[0], strict=True)), instance)
