"""`syncd demo --watch`: changes on the emulator printed as they land, bounded by --seconds or a stop event."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.demo import watch_demo

pytestmark = pytest.mark.slow


def test_watch_prints_each_change_landing_in_each_instance(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(["demo", "--watch", "--seconds", "6", "--every", "1", "--dir", str(tmp_path)], stdout=out,
                stderr=io.StringIO())
    text = out.getvalue()
    assert code == 0, text
    assert "doorbell: up" in text
    changes = re.findall(r"^#(\d+) on the hub: ", text, re.MULTILINE)
    landed = re.findall(r"^   #(\d+) landed in (demo-[ab]) after \d+ ms$", text, re.MULTILINE)
    assert changes, text
    # the first change is not the last thing printed, so it had time to land everywhere
    assert ("0", "demo-a") in landed and ("0", "demo-b") in landed, text


def test_watch_stops_when_asked(tmp_path: Path) -> None:
    stop = threading.Event()
    out = io.StringIO()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(watch_demo(tmp_path, out, stop, every=0.5)))
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(600):  # up to 30 s for the first landing
            if "landed in" in out.getvalue():
                break
            deadline.wait(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and result == [0]
    assert "landed in" in out.getvalue()


def test_watch_rejects_a_non_positive_period(tmp_path: Path) -> None:
    err = io.StringIO()
    assert main(["demo", "--watch", "--every", "0", "--dir", str(tmp_path)], stdout=io.StringIO(), stderr=err) == 2
    assert "--every" in err.getvalue()
