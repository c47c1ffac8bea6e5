"""``lookup``: an auto-complete object over a field's values, with LaminDB's attribute names.

A value becomes an attribute by replacing every run of characters outside
``[0-9a-zA-Z_]`` with ``_`` and lower-casing; a key that does not start with a
letter gets the prefix ``ln_``; Python keywords get a trailing ``_``; empty and
non-string values are skipped. When several records share a key the first (by
id) wins (``keep="last"``: the last; ``keep=False``: a list of all);
``.dict()`` maps each original value to its record, or to a list of records
when the value is not unique.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from syncd.registry.errors import FieldError
from syncd.registry.fields import field_name

if TYPE_CHECKING:
    from syncd.registry.query import QuerySet
    from syncd.registry.record import Record

__all__ = ["Lookup", "attribute_name", "lookup"]

R = TypeVar("R", bound="Record")
_NOT_IDENTIFIER = re.compile("[^0-9a-zA-Z_]+")


def attribute_name(value: str, prefix: str = "ln") -> str | None:
    """The attribute a value is reachable under, or None when it has none."""
    key = _NOT_IDENTIFIER.sub("_", value).lower()
    if not key:
        return None
    if not key[0].isalpha():
        key = f"{prefix}_{key}"
    return key


class Lookup:
    """Attributes for values (``lookup.lab_a``), ``dict()`` for exact values, iteration over records."""

    def __init__(self, values: dict[str, Any], by_value: dict[str, Any]) -> None:
        self._values = values
        self._by_value = by_value

    @property
    def _fields(self) -> tuple[str, ...]:
        return (*self._values, "dict")

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"no lookup key {name!r}") from None

    def __dir__(self) -> list[str]:
        return [*self._values, "dict"]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def dict(self) -> dict[str, Any]:
        """Each original value mapped to its record (a list of records when the value repeats)."""
        return self._by_value

    def __repr__(self) -> str:
        shown = ", ".join(list(self._values)[:10]) + (", ..." if len(self._values) > 10 else "")
        return f"Lookup({shown})"


Keep = Literal["first", "last", False]


def lookup(qs: QuerySet[R], *, field: Any, return_field: Any, keep: Keep = "first") -> Lookup:
    if keep not in ("first", "last", False):
        raise FieldError(f"keep must be 'first', 'last' or False, not {keep!r}")
    meta = qs.model._meta
    name = meta.name_field if field is None else field_name(field)
    return_field = None if return_field is None else field_name(return_field, argument="return_field")
    for given in (name, return_field):
        if given is not None and given not in meta.columns:
            raise FieldError(f"Unknown field '{given}'. Available fields: {', '.join(meta.available)}")
    by_value: dict[str, Any] = {}
    by_key: dict[str, list[Any]] = {}
    for record in qs.order_by("id") if not qs.is_sliced else qs:
        value = record.__dict__.get(name)
        if not isinstance(value, str) or value == "":
            continue
        held = by_value.get(value)
        by_value[value] = record if held is None else [*(held if isinstance(held, list) else [held]), record]
        key = attribute_name(value)
        if key is not None:
            key = key + "_" if keyword.iskeyword(key) else key
            shown = record if return_field is None else record.__dict__.get(return_field)
            by_key.setdefault(key, []).append(shown)
    return Lookup({k: _kept(v, keep) for k, v in by_key.items()}, by_value)


def _kept(found: list[Any], keep: Keep) -> Any:
    if keep is False:
        return found[0] if len(found) == 1 else found
    return found[0] if keep == "first" else found[-1]
