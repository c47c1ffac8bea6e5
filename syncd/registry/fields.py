"""Field objects: ``Space.name`` as LaminDB code passes it to ``lookup``, ``search``, ``order_by`` ...

A registry's plain fields are class attributes that stand for the field
(``Space.name``); on a record the attribute is the value (``space.name``).
Every method that takes a field name takes such an object too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncd.registry.record import Record

__all__ = ["FieldAttr", "field_name", "field_names"]


class FieldAttr:
    """A registry field used as a value: ``Space.name``; reading it on a record gives the record's value."""

    def __init__(self, registry_name: str, name: str) -> None:
        self.registry_name = registry_name
        self.name = name

    def __get__(self, obj: Record | None, owner: type[Record]) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(f"{owner.__name__} record has no value for {self.name!r}") from None

    @property
    def field_name(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"FieldAttr({self.registry_name}.{self.name})"


def field_name(value: Any, *, argument: str = "field") -> str:
    """The name a field argument stands for: a string as given, or the name of a field object."""
    if isinstance(value, str):
        return value
    name = getattr(value, "field_name", None)
    if isinstance(name, str):
        return name
    raise TypeError(f"{argument} takes a field name or a field such as Space.name, "
                    f"not {type(value).__name__}")


def field_names(values: Any, *, argument: str = "field") -> list[str]:
    """One or several field arguments as names."""
    if isinstance(values, list | tuple):
        return [field_name(v, argument=argument) for v in values]
    return [field_name(values, argument=argument)]
