"""README.md: the newcomer's two commands, the documented configuration, the links.

`.ci/run` runs the README's second fenced block verbatim, so its position and
content are part of the build; the configuration block must be one the
settings parser accepts as it stands.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from syncd.settings import parse_settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)]


def test_the_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_the_first_two_blocks_install_and_run_the_demo_then_the_tests() -> None:
    blocks = _fenced_blocks(README.read_text())
    demo, tests = blocks[0][1].strip(), blocks[1][1].strip()
    assert demo.startswith("python3 -m venv .venv && ") and demo.endswith("&& syncd demo")
    assert "pip install -c constraints.txt ." in demo
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith("&& python -m pytest")
    assert "pip install -e '.[test]' -c constraints.txt" in tests


def test_ci_extracts_the_test_command_from_the_second_block() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "awk '/^```/{n++; next} n==3' README.md" in ci
    # what that awk program prints: the lines between the third and fourth fence
    lines, fences = [], 0
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            fences += 1
            continue
        if fences == 3:
            lines.append(line)
    assert lines == [_fenced_blocks(README.read_text())[1][1].strip()]


def test_the_three_instance_configuration_parses() -> None:
    toml_blocks = [body for lang, body in _fenced_blocks(README.read_text()) if lang == "toml"]
    assert len(toml_blocks) == 1
    data = tomllib.loads(toml_blocks[0])
    read: list[Path] = []

    def read_file(path: Path) -> str:
        read.append(path)
        return f"secret-of-{path.name}"

    # as the shipped units run it: the hub token and the password come as systemd credentials
    settings = parse_settings(
        data, {"CREDENTIALS_DIRECTORY": "/run/credentials/syncd.service"}, source="README.md", read_file=read_file,
    )
    assert [(i.name, i.display_url.split(":", 1)[0], i.password is not None) for i in settings.instances] == [
        ("lab-a", "sqlite", False), ("lab-b", "sqlite", False), ("lab-c", "postgresql+psycopg", True),
    ]
    assert sorted(p.name for p in read) == ["hub-token", "pg-lab-c"]
    assert len(settings.groups(None)) == 1  # one hub and token: every page fetched once for all three


def test_every_relative_link_points_at_a_file() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert targets
    for target in targets:
        if "://" not in target:
            assert (ROOT / target).is_file(), target
