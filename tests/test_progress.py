"""The terminal progress line, and log lines written while it is shown."""

from __future__ import annotations

import io
import logging

import structlog

from syncd.core.models import Resource
from syncd.core.report import InstanceReport
from syncd.logs import configure_logging
from syncd.progress import TerminalProgress


def screen(written: str) -> list[str]:
    """What a terminal shows for ``written``: ``\\r`` returns to the line's start, later text overwrites."""
    lines: list[str] = []
    for raw in written.split("\n"):
        cells: list[str] = []
        col = 0
        for part in raw.split("\r"):
            for ch in part:
                if col < len(cells):
                    cells[col] = ch
                else:
                    cells.append(ch)
                col += 1
            col = 0
        lines.append("".join(cells).rstrip())
    return lines


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_log_line_during_progress_gets_a_line_of_its_own_and_the_progress_comes_back() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out, monotonic=Ticks(), columns=lambda: 200)
    configure_logging(level="warning", fmt="console", stream=progress.log_stream())
    try:
        progress.hub_request("space", "200", 0.1)
        progress.rows_applied("lab-a", Resource.SPACE, "inserted", 1000)
        structlog.get_logger("syncd.test").warning("store.slow", instance="lab-a")
        logging.getLogger("somelib").warning("a stdlib line")
        progress.rows_applied("lab-a", Resource.SPACE, "inserted", 500)
    finally:
        configure_logging(level="warning", fmt="console", stream=io.StringIO())
    shown = screen(out.getvalue())
    assert len(shown) == 3, shown
    assert "store.slow" in shown[0] and "syncing" not in shown[0]
    assert "a stdlib line" in shown[1] and "syncing" not in shown[1]
    assert shown[2] == "syncing… 1 hub requests; lab-a: 1500 rows"


def test_a_log_line_written_in_pieces_is_not_cut_by_the_progress_line() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out, monotonic=Ticks(), columns=lambda: 200)
    stream = progress.log_stream()
    progress.rows_applied("lab-a", Resource.SPACE, "inserted", 1)
    stream.write("first half, ")
    progress.rows_applied("lab-a", Resource.SPACE, "inserted", 1)  # not drawn into the log line
    stream.write("second half\n")
    assert screen(out.getvalue()) == ["first half, second half", "syncing… 0 hub requests; lab-a: 2 rows"]


def test_the_status_line_fits_the_terminal_and_is_cleared_when_an_instance_is_done() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out, monotonic=Ticks(), columns=lambda: 20)
    progress.rows_applied("lab-a", Resource.SPACE, "inserted", 1)
    assert screen(out.getvalue()) == ["syncing… 0 hub requ"]  # 19 columns: the last one stays free
    progress.instance_done(InstanceReport("lab-a"))
    assert screen(out.getvalue()) == [""]


def test_a_retry_says_what_happened() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out, columns=lambda: 200)
    progress.hub_retry("connect", 2.0, "space: connection refused by 127.0.0.1:8787 (nothing listening there?)")
    assert screen(out.getvalue()) == [
        "space: connection refused by 127.0.0.1:8787 (nothing listening there?); retrying in 2.0 s"
    ]


def test_on_a_narrow_terminal_a_retry_line_still_says_when_it_retries() -> None:
    out = io.StringIO()
    progress = TerminalProgress(out, columns=lambda: 50)
    progress.hub_retry("connect", 2.0, "space: connection refused by 127.0.0.1:8787 (nothing listening there?)")
    assert screen(out.getvalue()) == ["space: connection refused by …; retrying in 2.0 s"]  # 49 columns
