"""Empty databases get LaminDB's schema; LaminDB instances are checked, never altered; others refused."""

import sqlite3
from pathlib import Path

import pytest
from applying import opened, query
from sqlalchemy import create_engine, text

from syncd.errors import IncompatibleSchemaError
from syncd.store import ddl


def _lamindb_tables(url: str) -> list[tuple[str, str]]:
    return [
        (n, s)
        for n, s in query(
            url,
            "SELECT name, sql FROM sqlite_master WHERE tbl_name LIKE 'lamindb_%' "
            "AND sql IS NOT NULL ORDER BY name",
        )
    ]


def test_an_empty_sqlite_file_gets_lamindbs_exact_tables_and_seed_rows(sqlite_url: str) -> None:
    with opened(sqlite_url) as store:
        assert store.bootstrapped
    sql = {s for _, s in _lamindb_tables(sqlite_url)}
    assert sql == set(ddl.SQLITE_DDL)
    assert query(sqlite_url, "SELECT id, name, uid FROM lamindb_space") == [(1, "all", "aaaaaaaaaaaa")]
    assert query(sqlite_url, "SELECT id, name FROM lamindb_branch ORDER BY id") == [
        (-1, "trash"),
        (0, "archive"),
        (1, "main"),
    ]
    assert query(sqlite_url, "SELECT id, uid, handle FROM lamindb_user") == [(1, "00000000", "anonymous")]


def test_an_existing_instance_is_left_as_it_is_apart_from_syncd_tables(sqlite_url: str) -> None:
    with opened(sqlite_url):
        pass
    before = _lamindb_tables(sqlite_url)
    with opened(sqlite_url) as store:
        assert not store.bootstrapped
    assert _lamindb_tables(sqlite_url) == before
    names = {n for (n,) in query(sqlite_url, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"syncd_cursor", "syncd_space_map", "syncd_block_map", "syncd_quarantine"} <= names


def test_a_database_of_another_application_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id integer)")
    with (
        pytest.raises(IncompatibleSchemaError, match="not a LaminDB instance.*invoices"),
        opened(f"sqlite:///{path}"),
    ):
        pass
    with sqlite3.connect(path) as conn:
        assert [n for (n,) in conn.execute("SELECT name FROM sqlite_master")] == ["invoices"]


def test_a_lamindb_schema_without_the_needed_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in ddl.SQLITE_DDL:
            if 'CREATE TABLE "lamindb_spaceblock"' not in statement and "lamindb_spaceblock" not in statement:
                conn.execute(text(statement))
        conn.execute(text("CREATE TABLE lamindb_spaceblock (id integer primary key, uid varchar(20))"))
    engine.dispose()
    with (
        pytest.raises(IncompatibleSchemaError, match="lamindb_spaceblock lacks column"),
        opened(f"sqlite:///{path}"),
    ):
        pass


@pytest.mark.postgres
def test_an_empty_postgres_database_is_bootstrapped_like_lamin_init(pg_url: str) -> None:
    with opened(pg_url) as store:
        assert store.bootstrapped
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        types = dict(
            conn.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                    "WHERE table_name IN ('lamindb_space', 'lamindb_spaceblock') AND column_name IN "
                    "('id', 'created_at')"
                )
            ).all()
        )
        # LaminDB's next own space gets id 2, as after `lamin init`
        next_id = conn.execute(text("SELECT nextval('lamindb_space_id_seq')")).scalar_one()
        lower_index = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'unique_space_name_lower'")
        ).scalar_one()
    engine.dispose()
    assert types == {
        "lamindb_space.id": "smallint",
        "lamindb_spaceblock.id": "bigint",
        "lamindb_space.created_at": "timestamp with time zone",
        "lamindb_spaceblock.created_at": "timestamp with time zone",
    }
    assert next_id == 2
    assert "lower" in lower_index
