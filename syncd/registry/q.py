"""``Q``: query conditions combined with ``&``, ``|`` and ``~``, as in Django and LaminDB."""

from __future__ import annotations

from typing import Any

__all__ = ["Q"]

Child = "Q | tuple[str, Any]"


class Q:
    """A condition tree: ``Q(name="a") | Q(description__icontains="b")``, ``~Q(kind="comment")``."""

    AND = "AND"
    OR = "OR"

    __slots__ = ("children", "connector", "negated")

    def __init__(self, *args: Q, _connector: str = "AND", _negated: bool = False, **kwargs: Any) -> None:
        for arg in args:
            if not isinstance(arg, Q):
                raise TypeError(f"Q() takes Q objects and keyword conditions, not {type(arg).__name__}")
        self.children: tuple[Q | tuple[str, Any], ...] = (*args, *sorted(kwargs.items()))
        self.connector = _connector
        self.negated = _negated

    def _combine(self, other: object, connector: str) -> Q:
        if not isinstance(other, Q):
            raise TypeError(f"cannot combine Q with {type(other).__name__}")
        if not other.children:
            return self
        if not self.children:
            return other
        return Q(self, other, _connector=connector)

    def __and__(self, other: object) -> Q:
        return self._combine(other, Q.AND)

    def __or__(self, other: object) -> Q:
        return self._combine(other, Q.OR)

    def __invert__(self) -> Q:
        return Q(self, _negated=True)

    def keys(self) -> list[str]:
        """Every field path in the tree."""
        found: list[str] = []
        for child in self.children:
            found.extend(child.keys() if isinstance(child, Q) else [child[0]])
        return found

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(repr(c) if isinstance(c, Q) else f"{c[0]}={c[1]!r}"
                                           for c in self.children)
        return f"{'~' if self.negated else ''}Q({inner})"
