"""The database adapters: one interface, one module per database, and no database names elsewhere."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

import syncd
from syncd.errors import StoreError
from syncd.store.dialects import SUPPORTED, Dialect, UnsupportedDatabase, dialect_for
from syncd.store.dialects.postgresql import PostgreSQL
from syncd.store.dialects.sqlite import SQLite

ADAPTERS = [SQLite(), PostgreSQL()]
PACKAGE = Path(syncd.__file__).parent
DIALECTS = PACKAGE / "store" / "dialects"
# every spelling of a database a comparison could use: backend names and driver names
NAMES = {"sqlite", "postgresql", "postgres", "pysqlite", "psycopg", "psycopg2", "mysql", "mariadb", "oracle", "mssql"}


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_each_adapter_implements_the_whole_interface(adapter: Dialect) -> None:
    assert not getattr(type(adapter), "__abstractmethods__", None)
    for name, member in inspect.getmembers(Dialect):
        if getattr(member, "__isabstractmethod__", False):
            assert getattr(type(adapter), name) is not member, f"{adapter.name} lacks {name}"
    declared = [n for cls in Dialect.__mro__ for n in getattr(cls, "__annotations__", {})]
    missing = [n for n in declared if not hasattr(adapter, n)]
    assert not missing, f"{adapter.name} does not set {missing}"


def test_every_supported_database_has_an_adapter_named_after_its_scheme() -> None:
    assert SUPPORTED == ("sqlite", "postgresql")
    for name in SUPPORTED:
        assert dialect_for(name).name == name


def test_the_adapter_is_found_from_a_url_an_engine_a_connection_or_a_dialect(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {dialect_for(url), dialect_for(make_url(url)), dialect_for(engine), dialect_for(conn),
                     dialect_for(conn.dialect)}
    finally:
        engine.dispose()
    assert found == {dialect_for("sqlite")}
    assert dialect_for("postgresql+psycopg://u@h/db") is dialect_for("postgresql")


def test_an_unknown_database_is_named_in_the_error() -> None:
    with pytest.raises(UnsupportedDatabase, match="'mysql'") as caught:
        dialect_for("mysql://u@h/db")
    assert caught.value.name == "mysql"
    assert isinstance(caught.value, StoreError)  # in the one exception tree, as a store failure


def test_urls_get_the_driver_syncd_ships() -> None:
    assert dialect_for("postgresql").driver_url(make_url("postgresql://u@h/db")).drivername == "postgresql+psycopg"
    assert dialect_for("postgresql").driver_url(make_url("postgresql+psycopg://u@h/db")).drivername == (
        "postgresql+psycopg")
    assert dialect_for("sqlite").driver_url(make_url("sqlite:///x.db")).drivername == "sqlite"


def test_only_a_file_database_has_a_file() -> None:
    sqlite = dialect_for("sqlite")
    assert sqlite.database_file(make_url("sqlite:////var/lib/a.db")) == Path("/var/lib/a.db")
    assert sqlite.database_file(make_url("sqlite:///:memory:")) is None
    assert sqlite.database_file(make_url("sqlite://")) is None
    assert dialect_for("postgresql").database_file(make_url("postgresql://u@h/db")) is None


def test_sqlite_keeps_indexes_on_steady_columns_through_the_first_load() -> None:
    steady = 'CREATE INDEX "i" ON "lamindb_spaceblock" ("kind")'
    spread = 'CREATE INDEX "j" ON "lamindb_spaceblock" ("hash")'
    assert not dialect_for("sqlite").defers_index(steady)
    assert dialect_for("sqlite").defers_index(spread)
    assert dialect_for("postgresql").defers_index("CREATE INDEX k ON lamindb_spaceblock USING btree (kind)")


# -- no database comparisons outside the adapters -------------------------------------------------


def _offences(source: str) -> list[tuple[int, str]]:
    """Places in ``source`` that tell databases apart by name instead of asking an adapter."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            # "sqlite", "sqlite_" (a table prefix), "postgresql+psycopg"; not "postgres_changes" or a URL
            words = set(node.value.lower().replace("+", " ").replace("_", " ").split())
            if words and words <= NAMES:
                found.append((node.lineno, f"database name {node.value!r}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get_backend_name":
                found.append((node.lineno, "get_backend_name()"))
        elif isinstance(node, ast.Attribute) and node.attr in ("name", "driver") and (
                isinstance(node.value, ast.Attribute) and node.value.attr == "dialect"):
            found.append((node.lineno, f".dialect.{node.attr}"))
        elif isinstance(node, ast.Attribute) and node.attr == "drivername":
            found.append((node.lineno, ".drivername"))
    return found


def test_the_checker_finds_the_ways_a_database_can_be_told_apart() -> None:
    source = '''
if conn.dialect.name == "postgresql": pass
if url.get_backend_name() != "sqlite": pass
if backend in ("sqlite", "postgresql"): pass
flag = dialect == 'sqlite_'
if url.drivername.startswith("postgres"): pass
table = {"sqlite": 1}
kind = BigInteger().with_variant(Integer, "sqlite")
'''
    lines = {line for line, _ in _offences(source)}
    assert lines == {2, 3, 4, 5, 6, 7, 8}
    assert _offences('"""Works on sqlite and postgresql."""\nurl = "sqlite:///x.db"\nevent = "postgres_changes"\n') == []


def test_no_module_outside_the_adapters_compares_database_names() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if DIALECTS not in path.parents
        for line, what in _offences(path.read_text(encoding="utf-8"))
    ]
    assert offences == []


def test_the_architecture_guide_names_everything_a_new_adapter_implements() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Adding a database"):]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    members = {name for name, _ in inspect.getmembers(Dialect) if not name.startswith("_")}
    members |= {name for name in Dialect.__annotations__ if not name.startswith("_")}
    missing = sorted(name for name in members if f"`{name}`" not in section)
    assert missing == [], f"docs/architecture.md, 'Adding a database', does not name: {missing}"
