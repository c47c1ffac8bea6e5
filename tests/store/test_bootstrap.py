"""Empty databases get LaminDB's schema; LaminDB instances are checked, never altered; others refused."""

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from structlog.testing import capture_logs

from syncd.errors import IncompatibleSchemaError
from syncd.store import ddl
from tests.support.applying import opened, query


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
        store.finish(None)  # the end of the first run builds the indexes the bootstrap deferred
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
    with opened(sqlite_url) as store:
        store.finish(None)
    before = _lamindb_tables(sqlite_url)
    with opened(sqlite_url) as store:
        assert not store.bootstrapped
    assert _lamindb_tables(sqlite_url) == before
    names = {n for (n,) in query(sqlite_url, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"syncd_cursor", "syncd_space_map", "syncd_block_map", "syncd_quarantine"} <= names


# LaminDB's plain (non-unique) indexes of lamindb_spaceblock on spread-out columns, which a bootstrap builds
# after the first load; those on the steady columns (_status_code, branch_id, created_on_id, is_latest,
# kind) are there from the start
_SPREAD = ("created_at", "created_by_id", "hash", "space_id", "version_tag")
_DEFERRED_SQLITE = {
    s
    for s in ddl.SQLITE_DDL
    if s.startswith('CREATE INDEX "lamindb_spaceblock') and s.endswith(tuple(f'("{c}")' for c in _SPREAD))
}


def _pending(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT value FROM syncd_meta WHERE key = 'indexes_pending'")


def test_a_bootstrap_builds_the_plain_block_indexes_when_its_first_run_ends(sqlite_url: str) -> None:
    assert len(_DEFERRED_SQLITE) == 5
    with opened(sqlite_url) as store:
        # committed by open(): every table, constraint and index, without the five on spread-out columns
        assert {s for _, s in _lamindb_tables(sqlite_url)} == set(ddl.SQLITE_DDL) - _DEFERRED_SQLITE
        plain = "SELECT count(*) FROM pragma_index_list('lamindb_spaceblock') WHERE NOT \"unique\""
        assert query(sqlite_url, plain) == [(5,)]  # the five on steady columns
        assert _pending(sqlite_url) == [("lamindb_spaceblock",)]
        unique = query(sqlite_url, "SELECT name FROM pragma_index_list('lamindb_spaceblock') WHERE \"unique\"")
        assert len(unique) == 1  # the uid constraint is there from the start
        store.finish(None)
    assert {s for _, s in _lamindb_tables(sqlite_url)} == set(ddl.SQLITE_DDL)
    assert _pending(sqlite_url) == []


def test_indexes_a_failed_first_run_left_pending_are_built_when_the_instance_is_next_opened(
    sqlite_url: str,
) -> None:
    with opened(sqlite_url):
        pass  # the run failed before finish()
    assert _pending(sqlite_url) == [("lamindb_spaceblock",)]
    with opened(sqlite_url) as store:
        assert not store.bootstrapped
        assert {s for _, s in _lamindb_tables(sqlite_url)} == set(ddl.SQLITE_DDL)
        assert _pending(sqlite_url) == []


def test_a_first_load_left_pending_by_an_earlier_syncd_gets_every_plain_index(sqlite_url: str) -> None:
    """Earlier syncd versions deferred the indexes on steady columns too: the build makes all that lack."""
    with opened(sqlite_url):
        pass  # the run failed before finish()
    steady = set(ddl.SQLITE_DDL) - _DEFERRED_SQLITE - {s for _, s in _lamindb_tables(sqlite_url)}
    assert steady == set()  # this syncd made them at once
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:  # as an earlier syncd's bootstrap left the database
        names = [n for (n,) in conn.execute(text(
            "SELECT name FROM pragma_index_list('lamindb_spaceblock') WHERE NOT \"unique\""
        ))]
        assert len(names) == 5
        for name in names:
            conn.execute(text(f'DROP INDEX "{name}"'))
    engine.dispose()
    with opened(sqlite_url) as store:
        assert not store.bootstrapped
    assert {s for _, s in _lamindb_tables(sqlite_url)} == set(ddl.SQLITE_DDL)
    assert _pending(sqlite_url) == []


def test_a_lamindb_instance_missing_a_plain_index_is_never_given_one(tmp_path: Path) -> None:
    """Only a bootstrap marks indexes pending: an instance syncd did not create stays as it is."""
    path = tmp_path / "lamin.db"
    missing = 'CREATE INDEX "lamindb_spaceblock_kind_41415d4c" ON "lamindb_spaceblock" ("kind")'
    with sqlite3.connect(path) as conn:  # made outside syncd, without one of the plain indexes
        for statement in (*ddl.SQLITE_DDL, *ddl.SEED_STATEMENTS):
            if statement != missing:
                conn.execute(statement)
    url = f"sqlite:///{path}"
    for _ in range(2):
        with opened(url) as store:
            assert not store.bootstrapped
            store.finish(None)
    assert {s for _, s in _lamindb_tables(url)} == set(ddl.SQLITE_DDL) - {missing}
    assert _pending(url) == []


def test_an_index_build_that_fails_fails_nothing_and_is_tried_again(sqlite_url: str) -> None:
    """The deferred indexes only speed up reads: a build that cannot run is logged and retried."""
    blocker = 'CREATE TABLE "lamindb_spaceblock_hash_aa45b81f" (x)'  # takes one deferred index's name
    with opened(sqlite_url) as store:
        engine = create_engine(sqlite_url)
        with engine.begin() as conn:
            conn.execute(text(blocker))
        engine.dispose()
        with capture_logs() as logs:
            state = store.finish(None)  # does not raise: the run stays a success
        assert state.deferred == 0
    warnings = [e for e in logs if e["event"] == "store.indexes_not_built"]
    assert len(warnings) == 1 and "lamindb_spaceblock_hash_aa45b81f" in warnings[0]["error"]
    assert _pending(sqlite_url) == [("lamindb_spaceblock",)]  # rolled back together: all or nothing
    assert query(sqlite_url, "SELECT value FROM syncd_meta WHERE key = 'last_success'") != []
    assert {s for _, s in _lamindb_tables(sqlite_url)} == set(ddl.SQLITE_DDL) - _DEFERRED_SQLITE | {blocker}
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text('DROP TABLE "lamindb_spaceblock_hash_aa45b81f"'))
    engine.dispose()
    with opened(sqlite_url) as store:  # the next run builds them when it opens the instance
        assert not store.bootstrapped
    assert {s for _, s in _lamindb_tables(sqlite_url)} == set(ddl.SQLITE_DDL)
    assert _pending(sqlite_url) == []


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
    index_names = (
        "SELECT indexname FROM pg_indexes WHERE tablename = 'lamindb_spaceblock' ORDER BY indexname"
    )
    plain = {s.split()[2] for s in ddl.POSTGRESQL_DDL if s.startswith("CREATE INDEX lamindb_spaceblock")}
    assert len(plain) == 14  # the ten of SQLite, and four varchar_pattern_ops ones
    # every one deferred, those on the steady columns (made at once on SQLite) too: on PostgreSQL
    # keeping them during the load costs more than building them afterwards
    deferred = plain
    foreign_keys = (
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'lamindb_spaceblock'::regclass"
    )
    lamindb_keys = {
        s.split()[6]
        for s in ddl.POSTGRESQL_DDL
        if s.startswith("ALTER TABLE ONLY lamindb_spaceblock") and "FOREIGN KEY" in s
    }
    assert len(lamindb_keys) == 4  # space, creator, branch, created_on
    with opened(pg_url) as store:
        assert store.bootstrapped
        early = {n for (n,) in query(pg_url, index_names)}
        assert early == {"lamindb_spaceblock_pkey", "lamindb_spaceblock_uid_key"}
        assert query(pg_url, foreign_keys) == []  # checked once, in one join, after the first load
        store.finish(None)  # the first run's end builds LaminDB's plain indexes and foreign keys
    assert {n for (n,) in query(pg_url, index_names)} == early | deferred
    assert {n for (n,) in query(pg_url, foreign_keys)} == lamindb_keys


@pytest.mark.postgres
def test_on_postgres_a_block_left_pointing_at_no_space_holds_the_build_and_says_why(pg_url: str) -> None:
    """Another writer's bad block in the window before the foreign keys exist: logged, retried, kept."""
    with opened(pg_url):
        pass  # the first run failed before finish(): indexes and foreign keys are still pending
    engine = create_engine(pg_url)
    with engine.begin() as lamin:
        lamin.execute(
            text(
                "INSERT INTO lamindb_spaceblock (id, uid, content, kind, is_latest, space_id, created_by_id, "
                "_status_code, branch_id, created_on_id) VALUES (7, 'orphan00000000000000', 'x', 'readme', "
                "true, 99, 1, 0, 1, 1)"
            )
        )
    with capture_logs() as logs, opened(pg_url):
        pass
    [warning] = [e for e in logs if e["event"].startswith("store.indexes")]
    assert warning["event"] == "store.indexes_not_built"
    assert "lamindb_spaceblock_space_id_78889e95_fk_lamindb_space_id" in warning["error"]
    assert query(pg_url, "SELECT value FROM syncd_meta WHERE key = 'indexes_pending'") == [
        ("lamindb_spaceblock",)
    ]
    assert query(pg_url, "SELECT uid FROM lamindb_spaceblock") == [("orphan00000000000000",)]
    with engine.begin() as lamin:  # the operator points the block at a space that exists
        lamin.execute(text("UPDATE lamindb_spaceblock SET space_id = 1 WHERE id = 7"))
    engine.dispose()
    with capture_logs() as logs, opened(pg_url):
        pass
    assert [e["event"] for e in logs if e["event"].startswith("store.indexes")] == ["store.indexes_built"]
    assert query(pg_url, "SELECT count(*) FROM syncd_meta WHERE key = 'indexes_pending'") == [(0,)]


@pytest.mark.postgres
def test_on_postgres_a_build_waits_at_most_a_few_seconds_for_lamindb_writers(pg_url: str) -> None:
    """A LaminDB transaction that wrote to the table blocks CREATE INDEX: give up, build next run."""
    index_names = "SELECT count(*) FROM pg_indexes WHERE tablename = 'lamindb_spaceblock'"
    with opened(pg_url):
        pass  # the first run failed before finish(): the indexes are still pending
    writer = create_engine(pg_url)
    with writer.connect() as lamin:
        lamin.execute(text("UPDATE lamindb_space SET description = 'x' WHERE id = 1"))
        lamin.execute(text("DELETE FROM lamindb_spaceblock WHERE id = -1"))  # takes its table lock
        with capture_logs() as logs, opened(pg_url) as store:
            assert not store.bootstrapped
        assert [e["event"] for e in logs if e["event"].startswith("store.indexes")] == [
            "store.indexes_not_built"
        ]
        assert query(pg_url, index_names) == [(2,)]  # the primary key and the unique uid
        lamin.rollback()
    writer.dispose()
    with opened(pg_url):
        pass
    assert query(pg_url, index_names) == [(16,)]
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
