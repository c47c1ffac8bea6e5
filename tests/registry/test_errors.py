"""The registry raises its own errors for what the store's database adapters report."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import registry
from syncd.errors import (
    InstanceUnreachableError,
    PatternError,
    PatternTimeout,
    QueryError,
    StoreError,
    UnsupportedQuery,
)
from syncd.registry.errors import (
    InstanceError,
    InvalidPattern,
    NotSupportedError,
    QueryTimeout,
    RegistryError,
    from_store,
)
from tests.support.registry_fixture import sqlite_instance


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (InstanceUnreachableError("no such file x.db"), InstanceError),
        (PatternError("invalid regular expression '(': missing ), unterminated subpattern"), InvalidPattern),
        (UnsupportedQuery("contains lookup is not supported on this database backend."), NotSupportedError),
        (QueryError("something else"), RegistryError),
    ],
)
def test_each_store_error_becomes_the_registry_error_with_its_message(
    raised: InstanceUnreachableError | QueryError, expected: type[RegistryError],
) -> None:
    translated = from_store(raised)
    assert type(translated) is expected
    assert str(translated) == str(raised)


def test_a_timeout_names_the_pattern_the_deadline_and_the_remedy() -> None:
    translated = from_store(PatternTimeout("^(a|aa)+$", 0.2))
    assert type(translated) is QueryTimeout
    assert isinstance(translated, TimeoutError)
    assert str(translated) == (
        "the regular expression '^(a|aa)+$' ran past the registry's regex deadline of 0.2 s; simplify the "
        "pattern (nested repetition such as (a+)+ backtracks exponentially) or raise regex_timeout in connect()")


def test_an_in_memory_sqlite_database_is_an_instance_error() -> None:
    with pytest.raises(InstanceError) as caught:
        registry.connect("sqlite://")
    assert str(caught.value) == (
        "an in-memory SQLite database is not a LaminDB instance; give the file's path")
    assert not isinstance(caught.value, StoreError)


def test_sqlite_queries_raise_the_registry_errors(tmp_path: Path) -> None:
    registry.connect(sqlite_instance(tmp_path))
    try:
        with pytest.raises(NotSupportedError) as unsupported:
            registry.FeatureValue.filter(value__contains="lab").count()
        assert str(unsupported.value) == "contains lookup is not supported on this database backend."
        with pytest.raises(InvalidPattern, match=r"^invalid regular expression '\(': ") as invalid:
            registry.Space.filter(name__regex="(").count()
        assert not isinstance(invalid.value, QueryError)
    finally:
        registry.disconnect()
