"""Pages grouped into one transaction per instance, and the bulk writes under them.

``InstanceStore.apply_page`` keeps a transaction open across pages until it
holds ``transaction_rows`` rows or has been open ``transaction_seconds``. What
was committed is always whole (rows together with the cursor that covers them);
what was not is invisible to other connections and rolled back on failure.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from syncd.core.models import Position, Resource
from syncd.core.resources import parse_row
from syncd.core.watermark import CursorState
from syncd.errors import StoreError
from syncd.settings import SyncSettings
from syncd.store.bulk import allocate_ids, insert_rows
from syncd.store.instance import InstanceStore
from syncd.store.schema import spaceblock
from syncd.store.share import ROOMY, MemoryShare, share_of
from tests.support.applying import NOW, query
from tests.support.builders import block_row, instance_settings, space_row

S, B = Resource.SPACE, Resource.SPACE_BLOCK


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def store_for(
    url: str, ticks: Ticks | None = None, *, share: MemoryShare = ROOMY, **sync: Any
) -> Iterator[InstanceStore]:
    store = InstanceStore(
        instance_settings(url),
        SyncSettings(**sync),
        clock=lambda: NOW,
        monotonic=ticks if ticks is not None else Ticks(),
        share=share,
    )
    store.open()
    try:
        yield store
    finally:
        store.close()


def _state(n: int) -> CursorState:
    row = parse_row(B, block_row(n, 1))
    return CursorState(pass_pos=Position(row.updated_at, row.updated_at_raw, row.id))


def _page(store: InstanceStore, first: int, size: int) -> None:
    rows = [parse_row(B, block_row(n, 1)) for n in range(first, first + size)]
    store.apply_page(B, rows, [], _state(first + size - 1), None)


def _committed(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM lamindb_spaceblock")[0][0])


def _with_space(store: InstanceStore) -> None:
    store.apply_page(S, [parse_row(S, space_row(1))], [], CursorState(), None)
    store.commit()


def test_pages_share_a_transaction_until_it_holds_enough_rows(sqlite_url: str) -> None:
    with store_for(sqlite_url, transaction_rows=25) as store:
        _with_space(store)
        _page(store, 1, 10)
        _page(store, 11, 10)
        assert _committed(sqlite_url) == 0  # 20 rows: still one open transaction
        _page(store, 21, 10)
        assert _committed(sqlite_url) == 30  # 30 >= 25: committed, cursor with it
        cursor = query(sqlite_url, "SELECT pass_id FROM syncd_cursor WHERE resource = 'space_block'")
        assert cursor == [(str(parse_row(B, block_row(30, 1)).id),)]
        _page(store, 31, 5)
        store.commit()
        assert _committed(sqlite_url) == 35


def test_a_transaction_open_too_long_is_committed_with_the_next_page(sqlite_url: str) -> None:
    ticks = Ticks()
    with store_for(sqlite_url, ticks, transaction_rows=1000, transaction_seconds=2.0) as store:
        _with_space(store)
        _page(store, 1, 5)
        ticks.now += 1.0
        _page(store, 6, 5)
        assert _committed(sqlite_url) == 0
        ticks.now += 1.5
        _page(store, 11, 5)
        assert _committed(sqlite_url) == 15


def test_transaction_rows_of_one_commits_every_page(sqlite_url: str) -> None:
    with store_for(sqlite_url, transaction_rows=1) as store:
        _with_space(store)
        _page(store, 1, 3)
        assert _committed(sqlite_url) == 3


def test_closing_without_commit_keeps_nothing_of_the_open_transaction(sqlite_url: str) -> None:
    with store_for(sqlite_url, transaction_rows=1000) as store:
        _with_space(store)
        _page(store, 1, 10)
        _page(store, 11, 10)
    assert _committed(sqlite_url) == 0
    assert query(sqlite_url, "SELECT count(*) FROM syncd_block_map") == [(0,)]
    assert query(sqlite_url, "SELECT count(*) FROM syncd_cursor WHERE resource = 'space_block'") == [(0,)]


def test_a_failing_page_rolls_back_its_whole_transaction_and_the_store_stays_usable(sqlite_url: str) -> None:
    with store_for(sqlite_url, transaction_rows=1000) as store:
        _with_space(store)
        _page(store, 1, 10)
        store.conn.exec_driver_sql("DROP TABLE syncd_block_map")  # the next page cannot write its map rows
        _page(store, 11, 10)  # held with the first (store.batch): both are applied at the commit
        with pytest.raises(StoreError, match="writing to"):
            store.commit()
        assert _committed(sqlite_url) == 0  # the earlier, uncommitted page went with it
        # the DROP was rolled back too: a fresh transaction works again
        _page(store, 1, 10)
        store.commit()
    assert _committed(sqlite_url) == 10


def test_other_calls_commit_the_open_transaction_first(sqlite_url: str) -> None:
    with store_for(sqlite_url, transaction_rows=1000) as store:
        _with_space(store)
        _page(store, 1, 10)
        store.cursor(B)
        assert _committed(sqlite_url) == 10


# -- bulk writes -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def _block_values(local_id: int, uid: str) -> dict[str, Any]:
    return {
        "id": local_id,
        "uid": uid,
        "is_latest": True,
        "content": "x",
        "kind": "readme",
        "created_at": NOW,
        "space_id": 1,
        "created_by_id": 1,
    }


def test_allocated_ids_are_fresh_and_ascending(any_url: str) -> None:
    with store_for(any_url) as store, store.conn.begin():
        conn = store.conn
        first = allocate_ids(conn, spaceblock, 3)
        assert first == sorted(first) and len(set(first)) == 3
        conn.execute(insert(spaceblock), [_block_values(i, f"u{i:019d}") for i in first])
        again = allocate_ids(conn, spaceblock, 2)
        assert min(again) > max(first)
        assert allocate_ids(conn, spaceblock, 0) == []


def test_sqlite_ids_are_not_reused_after_the_newest_row_is_deleted(sqlite_url: str) -> None:
    # lamindb_spaceblock is AUTOINCREMENT: an id once used never comes back
    with store_for(sqlite_url) as store, store.conn.begin():
        conn = store.conn
        ids = allocate_ids(conn, spaceblock, 2)
        conn.execute(insert(spaceblock), [_block_values(i, f"u{i:019d}") for i in ids])
        conn.execute(spaceblock.delete().where(spaceblock.c.id == max(ids)))
        assert allocate_ids(conn, spaceblock, 1) == [max(ids) + 1]


def test_bulk_insert_errors_are_sqlalchemy_errors(any_url: str) -> None:
    with store_for(any_url) as store:
        conn = store.conn
        columns = ("is_latest", "id", "uid", "content", "kind", "created_at", "space_id", "created_by_id")
        stamp: Any = "2026-03-02 00:00:00.000000" if conn.dialect.name == "sqlite" else NOW
        row = (True, 10, "dupdupdupdupdupdupdu", "x", "readme", stamp, 1, 1)
        twin = (True, 11, *row[2:])  # another id, the same uid
        with pytest.raises(IntegrityError), conn.begin():
            insert_rows(conn, spaceblock, columns, [row, twin])
        with conn.begin():
            assert conn.execute(text("SELECT count(*) FROM lamindb_spaceblock")).scalar_one() == 0


def test_bulk_insert_writes_fixed_columns_into_every_row(any_url: str) -> None:
    """Columns given as ``fixed`` are the same integer in every row, on SQLite in the statement itself."""
    with store_for(any_url) as store:
        conn = store.conn
        columns = ("is_latest", "id", "uid", "content", "kind", "created_at", "space_id", "created_by_id")
        stamp: Any = "2026-03-02 00:00:00.000000" if conn.dialect.name == "sqlite" else NOW
        rows = [(True, 20 + i, f"fixed{i:015d}", "x", "readme", stamp, 1, 1) for i in range(3)]
        with conn.begin():
            insert_rows(conn, spaceblock, columns, rows, {"_status_code": -2, "branch_id": 0})
        with conn.begin():
            stored = conn.execute(
                text("SELECT id, _status_code, branch_id, created_on_id FROM lamindb_spaceblock ORDER BY id")
            ).all()
        assert [tuple(r) for r in stored] == [(20, -2, 0, 1), (21, -2, 0, 1), (22, -2, 0, 1)]
        with pytest.raises(TypeError, match="integers"):
            insert_rows(conn, spaceblock, columns, rows, {"branch_id": "1; DROP TABLE x"})  # type: ignore[dict-item]


def test_sqlite_bulk_insert_stores_values_as_django_does(sqlite_url: str) -> None:
    columns = ("uid", "id", "content", "kind", "is_latest", "created_at", "space_id", "created_by_id")
    rows = [
        (f"u{i:019d}", 100 + i, f"caf\u00e9 {i}\n\"quoted\" ?", "readme", i % 2 == 0, f"2026-03-02 00:00:0{i}.000000", 1, 1)
        for i in range(3)
    ]
    with store_for(sqlite_url) as store, store.conn.begin():
        insert_rows(store.conn, spaceblock, columns, rows)
    stored = query(
        sqlite_url,
        "SELECT uid, id, content, kind, is_latest, created_at, space_id, created_by_id, "
        "typeof(is_latest), typeof(id) FROM lamindb_spaceblock ORDER BY id",
    )
    assert [r[:8] for r in stored] == [(*r[:4], int(r[4]), *r[5:]) for r in rows]
    assert {r[8:] for r in stored} == {("integer", "integer")}  # as Django and sqlite3 store them


def test_among_finds_keys_on_every_path(any_url: str) -> None:
    from syncd.store.keysets import among
    from syncd.store.schema import user

    with store_for(any_url) as store, store.conn.begin():
        conn = store.conn
        assert set(conn.scalars(select(user.c.uid).where(among(conn, user.c.uid, ["00000000", "nope0000"])))) == {
            "00000000"
        }
        assert set(conn.scalars(select(user.c.uid).where(among(conn, user.c.id, [1, 2])))) == {"00000000"}
        assert set(conn.scalars(select(user.c.uid).where(among(conn, user.c.uid, [])))) == set()
        # a key longer than the column is no match on any dialect (a varchar(8)[] cast would cut it)
        assert set(conn.scalars(select(user.c.uid).where(among(conn, user.c.uid, ["00000000extra"])))) == set()
        # more keys than PostgreSQL allows bound parameters (65,535): one parameter here
        many = [f"{i:08d}" for i in range(70_000)]
        assert set(conn.scalars(select(user.c.uid).where(among(conn, user.c.uid, many)))) == {"00000000"}
        if conn.dialect.name == "sqlite":
            conn.info["syncd.sqlite_json"] = False
            assert set(conn.scalars(select(user.c.uid).where(among(conn, user.c.uid, ["00000000"])))) == {
                "00000000"
            }


def test_fetch_rows_reads_the_same_rows_on_every_path(any_url: str) -> None:
    from syncd.store.keysets import fetch_rows
    from syncd.store.schema import user

    handles = ["plain", "caf\u00e9 \"quoted\" \\ [1, 2]", "\u7d30\u80de"]
    with store_for(any_url) as store, store.conn.begin():
        conn = store.conn
        conn.execute(
            insert(user), [{"uid": f"fetch{i:03d}", "handle": h, "name": None} for i, h in enumerate(handles)]
        )
        query = select(user.c.uid, user.c.id, user.c.handle, user.c.name).where(user.c.uid.like("fetch%"))
        expected = sorted(tuple(r) for r in conn.execute(query))
        assert [r[2] for r in expected] == handles and all(isinstance(r[1], int) for r in expected)
        assert sorted(fetch_rows(conn, query)) == expected  # text, integers and NULL survive the trip
        assert fetch_rows(conn, query.where(user.c.uid == "none")) == []
        if conn.dialect.name == "sqlite":
            assert conn.info["syncd.sqlite_json"] is True  # the rows above came through JSON
            conn.info["syncd.sqlite_json"] = False  # as if SQLite had been built without JSON
            assert sorted(fetch_rows(conn, query)) == expected


def test_fetch_many_reads_each_lookup_as_fetch_rows_does(any_url: str) -> None:
    from syncd.store.keysets import fetch_many, fetch_rows
    from syncd.store.schema import branch, user

    with store_for(any_url) as store, store.conn.begin():
        conn = store.conn
        queries = (
            select(user.c.uid, user.c.id, user.c.name),
            select(branch.c.id, branch.c.name).where(branch.c.id <= 0),
            select(user.c.uid).where(user.c.uid == "none"),
        )
        expected = [sorted(fetch_rows(conn, q)) for q in queries]
        assert expected[0] == [("00000000", 1, None)] and len(expected[1]) == 2 and expected[2] == []
        assert [sorted(rows) for rows in fetch_many(conn, *queries)] == expected
        if conn.dialect.name == "sqlite":
            conn.info["syncd.sqlite_json"] = False  # as if SQLite had been built without JSON
            assert [sorted(rows) for rows in fetch_many(conn, *queries)] == expected
        assert fetch_many(conn) == []


def test_prepared_lookups_take_their_key_sets_at_each_run(any_url: str) -> None:
    """One statement for every page: keys bound by name (one name may serve two lookups), on every path."""
    from syncd.store.keysets import Lookups, key_set, keyed, prepared
    from syncd.store.schema import branch, user

    def build(conn: Connection) -> Lookups:
        return Lookups(
            conn,
            select(user.c.uid, user.c.id).where(keyed(conn, user.c.uid, "uids")),
            select(branch.c.id, branch.c.name).where(keyed(conn, branch.c.id, "ids", integers=True)),
            select(user.c.handle).where(keyed(conn, user.c.uid, "uids")),
        )

    def run(conn: Connection, name: str, uids: list[str], ids: list[int]) -> list[list[tuple[Any, ...]]]:
        lookups = prepared(conn, name, build)
        assert prepared(conn, name, build) is lookups  # built once per connection
        found = lookups.run(conn, {"uids": key_set(conn, uids), "ids": key_set(conn, ids)})
        return [sorted(rows) for rows in found]

    with store_for(any_url) as store, store.conn.begin():
        conn = store.conn
        assert run(conn, "t", ["00000000", "nope0000"], [0, 1, 5]) == [
            [("00000000", 1)], [(0, "archive"), (1, "main")], [("anonymous",)]
        ]
        assert run(conn, "t", [], [-1]) == [[], [(-1, "trash")], []]  # the same statement, other keys
        assert run(conn, "t", ["00000000extra"], []) == [[], [], []]  # never a prefix match
        if conn.dialect.name == "sqlite":
            conn.info["syncd.sqlite_json"] = False  # as if SQLite had been built without JSON
            assert run(conn, "plain", ["00000000"], [1]) == [[("00000000", 1)], [(1, "main")], [("anonymous",)]]


def test_sqlite_bulk_insert_splits_rows_to_fit_the_bound_parameter_limit(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syncd.store.dialects.sqlite_values as bulk

    columns = ("id", "uid", "content", "kind", "is_latest", "created_at", "space_id", "created_by_id")
    rows = [(10 + i, f"u{i:019d}", "x" * 20, "readme", True, "2026-03-02 00:00:00.000000", 1, 1) for i in range(9)]
    shapes = _count_shapes(monkeypatch)
    with store_for(sqlite_url) as store, store.conn.begin():
        driver = store.conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        old = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 3 * len(columns))  # 3 rows a statement
        try:
            insert_rows(store.conn, spaceblock, columns, rows, {"branch_id": 1})  # not a bound parameter
        finally:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)
    assert shapes == [3, 3, 3]
    assert bulk._shape(2, 3) == 3
    assert query(sqlite_url, "SELECT id FROM lamindb_spaceblock ORDER BY id") == [(10 + i,) for i in range(9)]


def _count_shapes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row count of every SQLite bulk INSERT statement built from now on."""
    import syncd.store.dialects.sqlite_values as bulk

    shapes: list[int] = []
    real = bulk._padded_statement

    def counting(table: str, names: str, width: int, literals: str, shape: int, marker: int | None) -> str:
        shapes.append(shape)
        return real(table, names, width, literals, shape, marker)

    monkeypatch.setattr(bulk, "_padded_statement", counting)
    return shapes


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        # an instance of a small group: chunks of up to 1,000 rows, the last of each call padded:
        # 891 rows are one statement of 1,000, 1,234 rows are 1,000 and 234 padded to 250
        (share_of(3), [1000, 1000, 1000, 100, 10, 1000, 250]),
        # one of a larger group: chunks of 250 rows, so 891 rows are 250, 250, 250 and 141 padded to 250
        (share_of(4), [250] * 12 + [100, 10] + [250] * 5),
    ],
)
def test_sqlite_bulk_inserts_of_any_size_share_a_few_statement_shapes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, share: MemoryShare, expected: list[int]
) -> None:
    """Pages insert different numbers of rows; each is padded up to one of a few statement sizes,
    so the prepared statements are reused, and exactly the real rows are inserted."""
    columns = ("id", "uid", "content", "kind", "is_latest", "created_at", "space_id", "created_by_id")
    shapes = _count_shapes(monkeypatch)
    counts = [891, 1000, 957, 37, 1, 1234]
    next_id = 1
    with store_for(sqlite_url, share=share) as store:
        for count in counts:
            rows = [
                (next_id + i, f"s{next_id + i:019d}", "x", "readme", True, "2026-03-02 00:00:00.000000", 1, 1)
                for i in range(count)
            ]
            with store.conn.begin():
                insert_rows(store.conn, spaceblock, columns, rows, {"branch_id": 1})
            next_id += count
    assert shapes == expected
    stored = query(sqlite_url, "SELECT count(*), min(id), max(id), count(DISTINCT uid) FROM lamindb_spaceblock")
    assert stored == [(sum(counts), 1, sum(counts), sum(counts))]
    assert query(sqlite_url, "SELECT count(*) FROM lamindb_spaceblock WHERE uid IS NULL OR content IS NULL") == [(0,)]


def test_sqlite_ids_follow_the_largest_row_when_no_table_has_autoincrement(tmp_path: Any) -> None:
    """Without any AUTOINCREMENT table SQLite has no sqlite_sequence; the largest id is the mark.

    (LaminDB's tables always create it; a hand-made database may not.)
    """
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine

    plain = Table("plain", MetaData(), Column("id", Integer, primary_key=True))
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        with engine.begin() as conn:
            plain.create(conn)
            assert allocate_ids(conn, plain, 2) == [1, 2]
            conn.execute(insert(plain), [{"id": 7}])
            assert allocate_ids(conn, plain, 2) == [8, 9]
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"
            ).scalar_one() == 0
    finally:
        engine.dispose()


def test_syncd_sqlite_connections_keep_statement_journals_in_memory(tmp_path: Any) -> None:
    """temp_store = MEMORY on syncd's own connections only: the database file itself is unchanged."""
    from syncd.store.engine import create_instance_engine

    path = tmp_path / "lab.db"
    engine = create_instance_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA temp_store").scalar_one() == 2  # MEMORY
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    engine.dispose()
    with sqlite3.connect(path) as other:  # another program's connection keeps SQLite's default
        assert other.execute("PRAGMA temp_store").fetchone() == (0,)


def test_sqlite_bulk_insert_without_a_marker_column_uses_statements_of_the_exact_size(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Padding rows are told apart by a NOT NULL column; a table written without one is not padded."""
    notes = Table("syncd_test_notes", MetaData(), Column("id", Integer, primary_key=True), Column("note", String))
    shapes = _count_shapes(monkeypatch)
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        notes.create(conn)
        insert_rows(conn, notes, ("id", "note"), [(1, "a"), (2, None), (3, "c")])
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        old = driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 2)  # exactly one row's parameters
        try:
            insert_rows(conn, notes, ("id", "note"), [(4, "d"), (5, None)])
        finally:
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)
        stored = conn.execute(text("SELECT id, note FROM syncd_test_notes ORDER BY id")).all()
    engine.dispose()
    assert shapes == [3, 1, 1]
    assert [tuple(r) for r in stored] == [(1, "a"), (2, None), (3, "c"), (4, "d"), (5, None)]


@pytest.mark.postgres
def test_postgres_bulk_insert_sends_each_value_in_its_columns_own_type(pg_url: str) -> None:
    """Binary COPY: the types come from the database (here narrower than syncd's own definitions),
    and text needing escapes in text COPY, NULLs and instants arrive exactly."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE syncd_test_notes (id integer PRIMARY KEY, n smallint, note text, at timestamptz)")
        )
    notes = Table(
        "syncd_test_notes",
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("n", Integer),
        Column("note", String),
        Column("at", DateTime(timezone=True)),
    )
    odd = "tab\there\nnew line \\ backslash \\N caf\u00e9 \U0001f600"
    rows = [(1, odd, NOW), (2, None, None)]
    with engine.begin() as conn:
        insert_rows(conn, notes, ("id", "note", "at"), rows, {"n": -3})
        stored = conn.execute(text("SELECT id, n, note, at FROM syncd_test_notes ORDER BY id")).all()
        assert [tuple(r) for r in stored] == [(1, -3, odd, NOW), (2, -3, None, None)]
        with pytest.raises(StoreError, match="syncd_test_notes has no column"):
            insert_rows(conn, Table("syncd_test_notes", MetaData(), Column("gone", Integer)), ("gone",), [(1,)])
    engine.dispose()


def test_a_batch_writes_its_cursor_once_the_last_pages_just_before_it_commits(sqlite_url: str) -> None:
    with store_for(sqlite_url, transaction_rows=1000) as store:
        _with_space(store)
        _page(store, 1, 10)
        store.commit()  # the resource's first cursor: its row is made
        statements: list[str] = []
        event.listen(store.conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        for first in (11, 21, 31):
            _page(store, first, 10)
        assert not [s for s in statements if "syncd_cursor" in s]
        store.commit()
        assert [s.split()[0] for s in statements if "syncd_cursor" in s] == ["UPDATE"]
    cursor = query(sqlite_url, "SELECT pass_id FROM syncd_cursor WHERE resource = 'space_block'")
    assert cursor == [(str(parse_row(B, block_row(40, 1)).id),)]
    assert _committed(sqlite_url) == 40


def test_a_cursor_that_cannot_be_written_at_commit_rolls_its_pages_back(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syncd.store.batch as batch_module

    real = batch_module.save_cursor

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("UPDATE syncd_cursor ...", {}, Exception("disk I/O error"))

    with store_for(sqlite_url, transaction_rows=1000) as store:
        _with_space(store)
        _page(store, 1, 10)
        monkeypatch.setattr(batch_module, "save_cursor", broken)
        with pytest.raises(StoreError, match="disk I/O error"):
            store.commit()
        assert _committed(sqlite_url) == 0  # the page went with the cursor it could not move
        monkeypatch.setattr(batch_module, "save_cursor", real)
        _page(store, 1, 10)  # the store stays usable: the page again, and its cursor
        store.commit()
    assert _committed(sqlite_url) == 10
    cursor = query(sqlite_url, "SELECT pass_id FROM syncd_cursor WHERE resource = 'space_block'")
    assert cursor == [(str(parse_row(B, block_row(10, 1)).id),)]
