"""``to_dataframe``: LaminDB's DataFrame of a query set (pandas is imported here, and only here).

Columns follow LaminDB: ``uid`` first, then the other plain fields with
``version_tag``/``is_latest``/``created_at`` moved last, then the foreign keys
as ``<name>_id``; the index is ``id``. By default the 20 newest records (``-id``)
unless the query set is ordered already. ``include`` keeps the first three
columns, adds each included path after them (a set of values for a reverse
relation such as ``ablocks__kind``), then any included plain fields.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from syncd.registry.compiler import parse_path
from syncd.registry.errors import FieldError, MissingDependencyError
from syncd.registry.fields import field_names
from syncd.registry.frame_types import as_lamindb_dtypes, datetimes
from syncd.registry.model import Reverse
from syncd.store.types import UTCDateTime

if TYPE_CHECKING:
    import pandas as pd

    from syncd.registry.query import QuerySet
    from syncd.registry.record import Record

__all__ = ["to_dataframe"]

R = TypeVar("R", bound="Record")
log = structlog.get_logger("syncd.registry")
DEFAULT_LIMIT = 20


def _columns(qs: QuerySet[R], includes: list[str]) -> tuple[list[str], list[str]]:
    meta = qs.model._meta
    privates = "privates" in includes
    if privates:
        includes.remove("privates")
    names = list(meta.frame_columns_with(privates=privates))
    if not includes:
        return names, []
    for path in includes:
        parse_path(qs.model, path, allow_lookup=False)
    chosen = names[:3] + [n for n in names[3:] if n in includes]
    extras = [p for p in includes if p not in chosen]
    return chosen, list(dict.fromkeys(extras))


def _pandas() -> ModuleType:
    try:
        import pandas
    except ModuleNotFoundError as exc:
        if exc.name != "pandas":
            raise
        raise MissingDependencyError(
            "to_dataframe needs pandas, which syncd installs only with its dataframe extra: "
            "pip install 'syncd[dataframe]' (from a checkout: pip install '.[dataframe]')"
        ) from None
    module: ModuleType = pandas
    return module


def to_dataframe(
    qs: QuerySet[R], *, include: str | list[str] | None, features: bool | str | list[str] | None,
    limit: int | None, order_by: str | None,
) -> pd.DataFrame:
    pd = _pandas()
    if features:
        raise FieldError("features are only available for LaminDB's Artifact, Record and Run registries")
    includes = [] if include is None else field_names(include, argument="include")
    if "features" in includes:
        raise FieldError(
            "include='features' is only available for LaminDB's Artifact, Record and Run registries")
    columns, extras = _columns(qs, includes)
    subset = qs
    if not subset._order and subset._ranked is None and order_by is not None:
        subset = subset.order_by(order_by)
    single = [p for p in extras if not _is_many(qs, p)]
    many = [p for p in extras if p not in single]
    truncated = False
    if limit is not None:
        rows = subset._window(0, limit + 1)._values(*columns, *single, raw_datetimes=True)
        truncated = len(rows) > limit
        rows = rows[:limit]
    else:
        rows = subset._values(*columns, *single, raw_datetimes=True)
    pk = columns.index("id")
    unique: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        unique.setdefault(row[pk], row)
    if not unique:
        return pd.DataFrame({}, columns=columns)
    data = {name: [row[n] for row in unique.values()] for n, name in enumerate([*columns, *single])}
    for path in many:
        data[path] = _gather(qs, path, list(unique))
    for name in [*columns, *single]:
        if _is_datetime(qs, name):
            data[name] = datetimes(pd, data[name])
    ordered = columns[:3] + extras + columns[3:]
    frame = as_lamindb_dtypes(pd, pd.DataFrame({name: data[name] for name in ordered})).set_index("id")
    if truncated and limit == DEFAULT_LIMIT:
        log.warning("registry.dataframe.truncated", registry=qs.model.__name__, limit=limit)
    return frame


def _is_datetime(qs: QuerySet[R], path: str) -> bool:
    parsed = parse_path(qs.model, path, allow_lookup=False)
    return isinstance(parsed.registry._meta.table.c[parsed.column].type, UTCDateTime)


def _is_many(qs: QuerySet[R], path: str) -> bool:
    return any(isinstance(hop, Reverse) for hop in parse_path(qs.model, path, allow_lookup=False).hops)


def _gather(qs: QuerySet[R], path: str, ids: list[Any]) -> list[set[Any]]:
    from syncd.registry.query import QuerySet

    related = QuerySet(qs.model, qs.instance, basic=True).filter(id__in=ids)._values("id", path)
    found: dict[Any, set[Any]] = {pk: set() for pk in ids}
    for pk, value in related:
        found[pk].add(value)
    return [found[pk] for pk in ids]
