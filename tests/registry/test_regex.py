"""Regular expressions: a backtracking pattern cannot hang a SQLite query; bad patterns raise registry errors."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from syncd.registry import Instance, InvalidPattern, QueryTimeout, RegistryError, Space
from syncd.registry.patterns import deadline, regexp


@pytest.fixture
def long_name(reg: Instance) -> Iterator[Space]:
    """A space whose name makes ``^(a+)+$`` backtrack exponentially."""
    space = Space(name="a" * 40 + "!", uid="REGXREGXREGX").save()
    try:
        yield space
    finally:
        space.delete()


@pytest.mark.parametrize("pattern", ["(", "[", "a{2,1}"])
def test_an_invalid_pattern_raises_the_registry_error(reg: Instance, pattern: str) -> None:
    with pytest.raises(InvalidPattern, match="invalid regular expression"):
        Space.filter(name__regex=pattern).count()
    with pytest.raises(RegistryError):
        Space.filter(name__iregex=pattern).to_list()


def test_the_issue_pattern_returns_on_both_databases(reg: Instance, long_name: Space) -> None:
    assert Space.filter(name__regex=r"^(a+)+$").count() == 0
    assert Space.filter(name__regex=r"^a+!$").count() == 1


def test_a_catastrophic_pattern_hits_the_deadline_on_sqlite(reg: Instance, long_name: Space) -> None:
    quick = Instance(reg._url.render_as_string(hide_password=False), regex_timeout=0.2)
    try:
        if quick.dialect == "sqlite":
            with pytest.raises(QueryTimeout, match="ran past the registry's regex deadline of 0.2 s"):
                Space.using(quick).filter(name__regex=r"^(a|aa)+$").count()
            # the connection is usable again afterwards
            assert Space.using(quick).filter(name__regex=r"^Lab").count() == 3
        else:
            # PostgreSQL's engine does not backtrack exponentially: the answer comes at once
            assert Space.using(quick).filter(name__regex=r"^(a|aa)+$").count() == 0
    finally:
        quick.dispose()


def test_the_deadline_is_read_from_the_injected_clock() -> None:
    ticks = itertools.count()
    with deadline(0.5, clock=lambda: float(next(ticks))), pytest.raises(QueryTimeout):
        regexp(r"^Lab", "Lab A")  # the fake clock is a second on at the first match: already too late
    assert regexp(r"^Lab", "Lab A") is True  # outside a deadline nothing is bounded


def test_the_regex_engine_gives_up_at_the_deadline() -> None:
    with deadline(0.1, clock=time.monotonic), pytest.raises(QueryTimeout):
        regexp(r"^(a|aa)+$", "a" * 40 + "!")


def test_patterns_match_as_python_searches() -> None:
    assert regexp(r"^Lab.A$", "Lab-A") is True
    assert regexp(r"lab", "Lab") is False
    assert regexp(r"(?i)lab", "Lab") is True
    assert regexp(None, "x") is None
    assert regexp("x", None) is None
