"""docs/hubsim.md and `syncd hubsim --help`: every curl line of the page runs against a live emulator."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli import main as syncd_main
from syncd.hubsim.main import main
from tests.support.serving import Lines

DOC = Path(__file__).resolve().parents[2] / "docs" / "hubsim.md"
DOC_URL = "http://127.0.0.1:8900"
SPACE, BLOCK = "00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb"




@pytest.fixture
def emulator() -> Iterator[str]:
    out, stop = Lines(), threading.Event()
    runner = threading.Thread(target=main, args=(["--port", "0", "--admin"],), kwargs={"stop": stop, "out": out})
    runner.start()
    try:
        assert out.printed.wait(timeout=10)
        yield out.getvalue().split()[1].removeprefix("url=")
    finally:
        stop.set()
        runner.join(timeout=10)


def _curl_lines() -> list[str]:
    lines = []
    inside = False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if inside and line.startswith("curl "):
            lines.append(line)
    return lines


def _run(line: str, url: str) -> object:
    argv = shlex.split(line.replace(DOC_URL, url))
    assert argv[0] == "curl"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_every_curl_line_of_the_page_does_what_the_page_says(emulator: str) -> None:
    lines = _curl_lines()
    assert len(lines) == 11  # the page's examples, in order
    answers = [_run(line, emulator) for line in lines]
    no_key, spaces = answers[0], answers[1]
    assert isinstance(no_key, dict) and (no_key["code"], no_key["message"]) == (
        "PGRST301", "No API key found in request")
    assert isinstance(spaces, list) and len(spaces) == 2 and {"id", "lnid", "name"} <= set(spaces[0])
    created, renamed, block, version, tombstoned, space = answers[2:8]
    assert isinstance(created, dict) and (created["id"], created["name"]) == (SPACE, "Lab Z")
    assert isinstance(renamed, dict) and renamed["name"] == "Lab Zed"
    assert renamed["updated_at"] > created["updated_at"]
    assert isinstance(block, dict)
    assert (block["id"], block["space_id"], block["content"]) == (BLOCK, SPACE, "# Hello")
    assert isinstance(version, dict) and (version["content"], version["version_tag"]) == ("# Hello again", "v2")
    assert isinstance(tombstoned, dict) and tombstoned["id"] == BLOCK and tombstoned["deleted_at"] is not None
    assert space == renamed
    queued, rates, cleared = answers[8:]
    assert isinstance(queued, dict) and queued["queued"] == ["503", "503"]
    assert isinstance(rates, dict) and (rates["error_rates"], rates["latency_ms"]) == ({"503": 0.2}, 50.0)
    assert isinstance(cleared, dict) and (cleared["error_rates"], cleared["queued"]) == ({}, [])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_queued_faults_fail_the_next_rest_requests(emulator: str) -> None:
    fail_next = next(line for line in _curl_lines() if "/_sim/faults/next" in line)
    _run(fail_next, emulator)
    get = next(line for line in _curl_lines() if "apikey" in line)
    argv = [*shlex.split(get.replace(DOC_URL, emulator)), "-o", "/dev/null", "-w", "%{http_code}\n"]
    codes = [subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
             for _ in range(3)]
    assert codes == ["503", "503", "200"]


def test_help_shows_the_default_port_the_apikey_header_and_the_admin_api() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert syncd_main(["hubsim", "--help"]) == 0
    text = out.getvalue()
    assert re.search(r"--port PORT +port to bind \(default: 8900\)", text)
    assert '"apikey: TOKEN" and "Authorization: Bearer TOKEN"' in text
    assert "answers 401 (code PGRST301)" in text
    for route in ("POST /_sim/space ", "POST /_sim/{resource}/{id} ", "POST /_sim/{resource}/{id}/delete",
                  "PUT  /_sim/faults", "POST /_sim/faults/next", "DELETE /_sim/faults"):
        assert route in text, route
    assert "docs/hubsim.md" in text
