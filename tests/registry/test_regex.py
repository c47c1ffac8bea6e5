"""Regular expressions: a backtracking pattern cannot hang a SQLite query; bad patterns raise registry errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.registry import Instance, InvalidPattern, QueryTimeout, RegistryError, Space


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

