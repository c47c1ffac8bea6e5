"""The registry tests' filled instance, on SQLite and then PostgreSQL (built once per test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd import registry
from tests.support.postgres import create_pg_database, drop_pg_database
from tests.support.registry_fixture import make_instance, sqlite_instance


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_instance(tmp_path_factory.mktemp("registry"))
        return
    url = create_pg_database("syncd_registry")
    try:
        make_instance(url, hub_owned=True)
        yield url
    finally:
        registry.disconnect()
        drop_pg_database(url)


@pytest.fixture
def reg(registry_db: str) -> Iterator[registry.Instance]:
    """The filled instance (SQLite, then PostgreSQL), connected as the default."""
    opened = registry.connect(registry_db)
    try:
        yield opened
    finally:
        registry.disconnect()


@pytest.fixture
def portable(registry_db: str) -> Iterator[registry.Instance]:
    """The filled instance opened with ``case_rules="portable"``: the same answers on both databases."""
    opened = registry.connect(registry_db, case_rules="portable")
    try:
        yield opened
    finally:
        registry.disconnect()
