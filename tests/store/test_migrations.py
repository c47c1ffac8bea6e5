"""Instances written by an older syncd are upgraded in place; a newer layout is refused untouched."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from syncd.core.models import Resource
from syncd.errors import IncompatibleSchemaError
from syncd.store.schema import SCHEMA_VERSION
from tests.support.applying import apply, counts, opened, query
from tests.support.builders import block_row, space_row

S, B = Resource.SPACE, Resource.SPACE_BLOCK

# syncd_block_map as schema version 1 created it (keyed by hub_id, uid unique)
V1_BLOCK_MAP = {
    "sqlite": (
        "CREATE TABLE syncd_block_map (hub_id VARCHAR(36) NOT NULL, local_id INTEGER NOT NULL, "
        "uid VARCHAR(20) NOT NULL, hub_updated_at VARCHAR(40) NOT NULL, PRIMARY KEY (hub_id), "
        "UNIQUE (local_id), UNIQUE (uid))"
    ),
    "postgresql": (
        "CREATE TABLE syncd_block_map (hub_id VARCHAR(36) NOT NULL, local_id BIGINT NOT NULL, "
        "uid VARCHAR(20) NOT NULL, hub_updated_at VARCHAR(40) NOT NULL, PRIMARY KEY (hub_id), "
        "UNIQUE (local_id), UNIQUE (uid))"
    ),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def _make_v1(url: str) -> list[tuple[object, ...]]:
    """Turn a current instance back into version 1, keeping its map rows; return them."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT hub_id, local_id, uid, hub_updated_at FROM syncd_block_map ORDER BY hub_id")
            ).all()
            conn.execute(text("DROP TABLE syncd_block_map"))
            conn.execute(text(V1_BLOCK_MAP[conn.dialect.name]))
            for row in rows:
                conn.execute(
                    text("INSERT INTO syncd_block_map VALUES (:h, :l, :u, :s)"),
                    {"h": row[0], "l": row[1], "u": row[2], "s": row[3]},
                )
            conn.execute(text("UPDATE syncd_meta SET value = '1' WHERE key = 'schema_version'"))
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def test_a_version_1_instance_is_upgraded_keeping_its_map_and_syncs_on(url: str) -> None:
    blocks = [block_row(n, 1) for n in range(1, 6)]
    with opened(url) as store:
        apply(store, S, [space_row(1)])
        apply(store, B, blocks)
    before = _make_v1(url)
    assert len(before) == 5
    with opened(url) as store:
        # the same rows again: all known, nothing written twice
        assert counts(apply(store, B, blocks), B) == {"unchanged": 5}
        assert counts(apply(store, B, [block_row(6, 1)]), B) == {"inserted": 1}
    assert query(url, "SELECT value FROM syncd_meta WHERE key = 'schema_version'") == [(SCHEMA_VERSION,)]
    after = query(url, "SELECT hub_id, local_id, uid, hub_updated_at FROM syncd_block_map ORDER BY hub_id")
    assert set(before) < {tuple(r) for r in after} and len(after) == 6
    assert query(url, "SELECT count(*) FROM lamindb_spaceblock") == [(6,)]
    engine = create_engine(url)
    try:
        layout = inspect(engine)
        assert layout.get_pk_constraint("syncd_block_map")["constrained_columns"] == ["local_id"]
        unique = [u["column_names"] for u in layout.get_unique_constraints("syncd_block_map")]
        assert unique == [["hub_id"]]
    finally:
        engine.dispose()


def test_a_newer_layout_is_refused_and_left_alone(sqlite_url: str) -> None:
    with opened(sqlite_url):
        pass
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE syncd_meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(IncompatibleSchemaError, match="version 99; this syncd writes version"), opened(sqlite_url):
        pass
    assert query(sqlite_url, "SELECT value FROM syncd_meta WHERE key = 'schema_version'") == [("99",)]
