"""Dependencies point one way: cli -> (runner, daemon) -> (hub, store) -> core; modules stay small.

Read from the import statements of every module (including imports inside
functions), so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import syncd

PACKAGE = Path(syncd.__file__).resolve().parent

# modules every layer may use: the exception tree, configuration, secrets, logging set-up, the version
SHARED = {"errors", "settings", "secrets", "logs", ""}
# what each layer may import besides SHARED and itself
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "hub": {"core"},
    "store": {"core"},
    "hubsim": {"core"},
    "registry": {"core", "store"},
    "runner": {"core", "hub", "store"},
    "shard": set(),
    "daemon": {"core", "hub", "store", "runner", "shard"},
}
CORE_MAY_USE = {"errors"}  # the core does not even read settings


def _layer(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "syncd":  # from syncd import registry
                found.update("syncd" if a.name.startswith("__") else f"syncd.{a.name}" for a in node.names)
            elif node.module.startswith("syncd."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("syncd"))
    return found


def _edges() -> dict[str, set[tuple[str, str]]]:
    edges: dict[str, set[tuple[str, str]]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _layer(".".join(relative.parts))
        for target in {_layer(m) for m in _imports(path)} - {source}:
            edges.setdefault(source, set()).add((target, str(path.relative_to(PACKAGE.parent))))
    return edges


def test_each_layer_imports_only_the_layers_below_it() -> None:
    edges = _edges()
    wrong = sorted(
        f"{where} imports syncd.{target}"
        for source, allowed in ALLOWED.items()
        for target, where in edges.get(source, set())
        if target not in (CORE_MAY_USE if source == "core" else allowed | SHARED)
    )
    assert wrong == []


def test_nothing_imports_the_command_line() -> None:
    edges = _edges()
    importers = sorted(where for source, pairs in edges.items() if source != "__main__"
                       for target, where in pairs if target == "cli")
    assert importers == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from syncd.daemon.health import Health\n    import syncd.cli\n"
                      "    from syncd import registry\n")
    assert _imports(module) == {"syncd.daemon.health", "syncd.cli", "syncd.registry"}


MAX_MODULE_LINES = 400


def test_no_module_is_over_four_hundred_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these by concern: {long}"
