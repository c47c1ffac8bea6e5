"""``search``: LaminDB's ranked text search.

By default the ranking runs in the database as LaminDB's SQL does
(:mod:`syncd.registry.ranking`). On an instance opened with
``case_rules="portable"`` it is computed here instead, the same way on both
databases:

Candidates are records where any searched field contains the string. Each
field then scores, for the stripped string ``s``: 200 for an exact match, 200
for an exact ``|``-separated synonym, 10 for ``s`` as a phrase between
separators (space ``|`` ``.`` ``,`` ``;`` ``:``), 8 for a synonym starting with
``s``, 2 for ``s`` starting after a space or ``|``, 2 for ``s`` ending before
a separator, and 1 for containing ``s``. Records are ordered by the summed
score, ties by id. Patterns are matched as Python regular expressions (as
LaminDB does on SQLite), so ``.`` does not cross newlines on either database.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import or_

from syncd.registry.errors import FieldError, InvalidArgument
from syncd.registry.fields import field_names
from syncd.registry.lookups import apply_lookup
from syncd.registry.ranking import contains, field_text, rank_terms

if TYPE_CHECKING:
    from syncd.registry.query import QuerySet
    from syncd.registry.record import Record

__all__ = ["rank", "search"]

R = TypeVar("R", bound="Record")


def _patterns(string: str, flags: int) -> list[tuple[re.Pattern[str], int]]:
    s = re.escape(string)
    return [
        (re.compile(rf"(?:^|.*\|){s}(?:\|.*|$)", flags), 200),
        (re.compile(rf"(?:^|.*[ \|\.,;:]){s}(?:[ \|\.,;:].*|$)", flags), 10),
        (re.compile(rf"(?:^|.*\|){s}[^ ]*(?:\|.*|$)", flags), 8),
        (re.compile(rf"(?:^|.*[ \|]){s}.*", flags), 2),
        (re.compile(rf".*{s}(?:$|[ \|\.,;:].*)", flags), 2),
    ]


def rank(values: list[Any], string: str, *, case_sensitive: bool) -> int:
    """The score of one record whose searched fields hold ``values``."""
    patterns = _patterns(string, 0 if case_sensitive else re.IGNORECASE)
    return _rank(values, string, patterns, case_sensitive)


def _rank(
    values: list[Any], string: str, patterns: list[tuple[re.Pattern[str], int]], case_sensitive: bool,
) -> int:
    folded = string if case_sensitive else string.lower()
    total = 0
    for raw in values:
        text = "" if raw is None else str(raw)
        probe = text if case_sensitive else text.lower()
        if probe == folded:
            total += 200
        for pattern, weight in patterns:
            if pattern.search(text):
                total += weight
        if folded in probe:
            total += 1
    return total


def search(
    qs: QuerySet[R], string: str, *, field: Any, limit: int | None, case_sensitive: bool,
) -> QuerySet[R]:
    if string is None:
        raise InvalidArgument("Cannot search for None value! Please pass a valid string.")
    meta = qs.model._meta
    fields = list(meta.text_fields) if field is None else field_names(field)
    for name in fields:
        if name not in meta.columns:
            raise FieldError(f"search looks at fields of {qs.model.__name__}, not {name!r}; "
                             f"text fields: {', '.join(meta.text_fields)}")
    if not fields:
        return qs._with_ranked([])
    string = string.strip()
    if qs.instance.case_rules == "database":
        return _in_database(qs, string, fields, limit, case_sensitive)
    lookup = "contains" if case_sensitive else "icontains"
    stmt, _ = qs._compiled("id", *fields)
    dialect = qs.instance.adapter
    matches = [apply_lookup(meta.table.c[name], lookup, string, dialect=dialect, is_text=meta.is_text(name))
               for name in fields]
    with qs.instance.read() as conn:
        rows = conn.execute(stmt.where(or_(*matches))).all()
    patterns = _patterns(string, 0 if case_sensitive else re.IGNORECASE)
    scored = sorted((-_rank(list(row[1:]), string, patterns, case_sensitive), row[0]) for row in rows)
    ids = list(dict.fromkeys(pk for _, pk in scored))
    return qs._with_ranked(ids if limit is None else ids[:limit])


def _in_database(
    qs: QuerySet[R], string: str, fields: list[str], limit: int | None, case_sensitive: bool,
) -> QuerySet[R]:
    """Rank in SQL, selecting what LaminDB selects, so that ties come back in the database's order."""
    table = qs.model._meta.table
    dialect = qs.instance.adapter
    stmt, _ = qs._compiled()
    matches = [contains(field_text(table.c[name]), string, dialect, case_sensitive) for name in fields]
    terms = [t for name in fields for t in rank_terms(table.c[name], string, dialect, case_sensitive)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    ranked = stmt.where(or_(*matches)).order_by(None).order_by(total.desc())
    if limit is not None:
        ranked = ranked.limit(limit)
    with qs.instance.read() as conn:
        pk = qs.model._meta.columns.index("id")
        rows = conn.execute(ranked).all()
    return qs._with_ranked([row[pk] for row in rows], rows)
