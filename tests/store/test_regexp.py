"""Regular expressions that run in Python: re syntax, a deadline from an injected clock, failures kept."""

from __future__ import annotations

import itertools
import time

import pytest

from syncd.errors import PatternError, PatternTimeout, QueryError
from syncd.store.dialects.regexp import deadline, failure, regexp, start, stop


def test_the_deadline_is_read_from_the_injected_clock() -> None:
    ticks = itertools.count()
    with deadline(0.5, clock=lambda: float(next(ticks))), pytest.raises(PatternTimeout) as caught:
        regexp(r"^Lab", "Lab A")  # the fake clock is a second on at the first match: already too late
    assert (caught.value.pattern, caught.value.seconds) == ("^Lab", 0.5)
    assert str(caught.value) == "the regular expression '^Lab' ran past its deadline of 0.5 s"
    assert regexp(r"^Lab", "Lab A") is True  # outside a deadline nothing is bounded


def test_the_regex_engine_gives_up_at_the_deadline() -> None:
    with deadline(0.1, clock=time.monotonic), pytest.raises(PatternTimeout):
        regexp(r"^(a|aa)+$", "a" * 40 + "!")


def test_patterns_match_as_python_searches() -> None:
    assert regexp(r"^Lab.A$", "Lab-A") is True
    assert regexp(r"lab", "Lab") is False
    assert regexp(r"(?i)lab", "Lab") is True
    assert regexp(None, "x") is None
    assert regexp("x", None) is None


@pytest.mark.parametrize("pattern", ["(", "[", "a{2,1}"])
def test_a_pattern_python_cannot_compile_is_a_pattern_error(pattern: str) -> None:
    with pytest.raises(PatternError, match=r"^invalid regular expression ") as caught:
        regexp(pattern, "x")
    assert isinstance(caught.value, ValueError)


def test_the_failure_is_kept_until_the_next_start() -> None:
    # the database reports only that its function failed: the caller asks which error it was
    start(5.0, time.monotonic)
    try:
        assert failure() is None
        with pytest.raises(PatternError):
            regexp("(", "x")
        kept = failure()
        assert isinstance(kept, PatternError) and isinstance(kept, QueryError)
        start(5.0, time.monotonic)
        assert failure() is None
    finally:
        stop()
