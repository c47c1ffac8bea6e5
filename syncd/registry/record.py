"""``Record``: the base of every registry; one row as an object, and the registry's class methods.

A subclass becomes a registry by setting ``_table``, ``_fields`` (LaminDB's field
order) and ``_relations``; see :mod:`syncd.registry.registries`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from sqlalchemy import Table

from syncd.registry import errors
from syncd.registry.connection import Instance
from syncd.registry.fields import FieldAttr
from syncd.registry.model import Forward, Meta, Reverse, build_meta, register, registry_named
from syncd.registry.query import QuerySet

if TYPE_CHECKING:
    import pandas as pd

    from syncd.registry.lookup import Lookup
    from syncd.registry.q import Q

__all__ = ["Record"]


class _ForwardAccess:
    """``block.space``: the related record, read once and cached; ``block.space = s`` sets ``space_id``."""

    def __init__(self, relation: Forward) -> None:
        self.relation = relation

    @property
    def field_name(self) -> str:
        return self.relation.name

    def __get__(self, obj: Record | None, owner: type[Record]) -> Any:
        if obj is None:
            return self
        key = obj.__dict__.get(self.relation.column)
        if key is None:
            return None
        cache = obj.__dict__.setdefault("_cache", {})
        cached = cache.get(self.relation.name)
        if cached is None or cached.id != key:
            assert self.relation.target is not None
            target = registry_named(self.relation.target)
            cached = QuerySet(target, obj._instance, basic=True).filter(id=key).first()
            cache[self.relation.name] = cached
        return cached

    def __set__(self, obj: Record, value: Record | None) -> None:
        obj.__dict__[self.relation.column] = None if value is None else value.id
        obj.__dict__.setdefault("_cache", {})[self.relation.name] = value


class _ReverseAccess:
    """``space.ablocks``: a query set of the related records (every branch, as LaminDB's related managers)."""

    def __init__(self, relation: Reverse) -> None:
        self.relation = relation

    @property
    def field_name(self) -> str:
        return self.relation.name

    def __get__(self, obj: Record | None, owner: type[Record]) -> Any:
        if obj is None:
            return self
        target = registry_named(self.relation.target)
        if obj.__dict__.get("id") is None:
            raise ValueError(f"save the {owner.__name__} before reading its {self.relation.name}")
        return QuerySet(target, obj._instance, basic=True).filter(**{self.relation.column: obj.id})


def _format(value: Any) -> str:
    if isinstance(value, Record):
        return repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


class Record:
    """One row of a registry. Fields are attributes; relations are read on access."""

    _table: ClassVar[Table]
    _fields: ClassVar[tuple[str, ...]]
    _relations: ClassVar[tuple[Forward | Reverse, ...]] = ()
    _name_field: ClassVar[str | None] = None
    _versioned: ClassVar[bool] = False
    _read_only: ClassVar[bool] = False
    _hub_map: ClassVar[Table | None] = None
    _meta: ClassVar[Meta]
    DoesNotExist: ClassVar[type[errors.DoesNotExist]]
    MultipleObjectsReturned: ClassVar[type[errors.MultipleObjectsReturned]]

    id: int | None
    _instance: Instance | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_table" not in cls.__dict__:
            return
        cls._meta = build_meta(cls._table, cls._fields, cls._relations, name_field=cls._name_field,
                               versioned=cls._versioned, read_only=cls._read_only)
        cls.DoesNotExist = type(
            "DoesNotExist", (errors.DoesNotExist,),
            {"__module__": cls.__module__, "__qualname__": f"{cls.__name__}.DoesNotExist"})
        cls.MultipleObjectsReturned = type(
            "MultipleObjectsReturned", (errors.MultipleObjectsReturned,),
            {"__module__": cls.__module__, "__qualname__": f"{cls.__name__}.MultipleObjectsReturned"})
        forward_names = {r.name for r in cls._relations if isinstance(r, Forward)}
        for name in cls._fields:
            if not name.startswith("_") and name not in forward_names and name not in cls.__dict__:
                setattr(cls, name, FieldAttr(cls.__name__, name))
        for relation in cls._relations:
            if isinstance(relation, Forward) and relation.target is None:
                continue
            access = _ForwardAccess(relation) if isinstance(relation, Forward) else _ReverseAccess(relation)
            setattr(cls, relation.name, access)
        register(cls)

    def __init__(self, **values: Any) -> None:
        """A new record, not yet saved: ``Space(name="Lab C").save()``."""
        from syncd.registry.writes import new_record_values

        self.__dict__.update(new_record_values(type(self), values))
        self._instance = None

    @classmethod
    def _from_row(cls, values: dict[str, Any], instance: Instance) -> Self:
        obj = cls.__new__(cls)
        obj.__dict__.update(values)
        obj.__dict__["_instance"] = instance
        return obj

    # ---- class methods: the registry --------------------------------------------------------------

    @classmethod
    def filter(cls, *queries: Q, **expressions: Any) -> QuerySet[Self]:
        """Records matching ``Q`` objects and ``field__lookup=value`` expressions."""
        using = expressions.pop("using", None)
        return QuerySet(cls, using).filter(*queries, **expressions)

    @classmethod
    def get(cls, idlike: int | str | None = None, **expressions: Any) -> Self:
        """One record: ``get(3)``, ``get("uid or stub")``, ``get(name="Lab A")``."""
        return QuerySet(cls).get(idlike, **expressions)

    @classmethod
    def using(cls, instance: str | Instance | None) -> QuerySet[Self]:
        """Query another instance: a configured name, a database URL, or an :class:`Instance`."""
        return QuerySet(cls, instance)

    @classmethod
    def to_dataframe(
        cls, *, include: str | list[str] | None = None, features: bool | str | list[str] | None = None,
        limit: int | None = 20, order_by: str | None = "-id",
    ) -> pd.DataFrame:
        return cls.filter().to_dataframe(include=include, features=features, limit=limit, order_by=order_by)

    @classmethod
    def df(
        cls, *, include: str | list[str] | None = None, features: bool | str | list[str] | None = None,
        limit: int | None = 20, order_by: str | None = "-id",
    ) -> pd.DataFrame:
        """Deprecated spelling of :meth:`to_dataframe`."""
        import warnings

        warnings.warn("df() is deprecated, use to_dataframe()", DeprecationWarning, stacklevel=2)
        return cls.to_dataframe(include=include, features=features, limit=limit, order_by=order_by)

    @classmethod
    def search(
        cls, string: str, *, field: str | list[str] | None = None, limit: int | None = 20,
        case_sensitive: bool = False,
    ) -> QuerySet[Self]:
        """Records ranked by how well a text field matches ``string`` (LaminDB's ranking)."""
        return QuerySet(cls, basic=True).search(
            string, field=field, limit=limit, case_sensitive=case_sensitive)

    @classmethod
    def lookup(
        cls, field: str | None = None, return_field: str | None = None,
        keep: Literal["first", "last", False] = "first",
    ) -> Lookup:
        """An auto-complete object: ``Space.lookup().lab_a``; ``.dict()`` maps values to records."""
        return QuerySet(cls, basic=True).lookup(field=field, return_field=return_field, keep=keep)

    # ---- instance methods -------------------------------------------------------------------------

    def save(self) -> Self:
        """Insert or update a local record; records synchronised from the hub raise :class:`HubOwnedError`."""
        from syncd.registry.writes import save_record

        save_record(self)
        return self

    def delete(self, permanent: bool | None = None) -> None:
        """Delete a local record for good (``permanent=False`` is refused, as in LaminDB)."""
        from syncd.registry.writes import delete_records

        if self._instance is None or self.id is None:
            raise errors.InvalidArgument(f"this {type(self).__name__} was never saved")
        delete_records(type(self), self._instance, [self], permanent=permanent)

    def refresh_from_db(self) -> None:
        """Read the record's fields again from its instance."""
        if self._instance is None or self.id is None:
            raise errors.InvalidArgument(f"this {type(self).__name__} was never saved")
        fresh = QuerySet(type(self), self._instance, basic=True).filter(id=self.id).first()
        if fresh is None:
            raise type(self).DoesNotExist(f"{type(self).__name__} {self.id} no longer exists")
        self.__dict__.pop("_cache", None)
        self.__dict__.update({k: fresh.__dict__[k] for k in self._meta.columns})

    async def arefresh_from_db(self) -> None:
        await asyncio.to_thread(self.refresh_from_db)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        if self.id is None:
            return self is other
        return self.id == other.id and self._instance is other._instance

    def __hash__(self) -> int:
        if self.id is None:
            raise TypeError("unsaved records are unhashable")
        return hash((type(self).__name__, self.id))

    def __repr__(self) -> str:
        forward = self._meta.forward
        shown = ", ".join(
            f"{name}={_format(getattr(self, name) if name in forward else self.__dict__.get(name))}"
            for name in self._meta.repr_fields)
        return f"{type(self).__name__}({shown})"
