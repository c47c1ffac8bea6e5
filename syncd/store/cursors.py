"""Per-resource cursors in ``syncd_cursor``, written in the same transaction as the rows they cover."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from syncd.core.models import Position, Resource
from syncd.core.timestamps import format_canonical, parse_stored
from syncd.core.watermark import CursorState
from syncd.store.schema import cursor, meta

__all__ = ["load_cursor", "read_meta", "restart_cursor", "save_cursor", "write_meta"]


def _dt(value: str | None) -> datetime | None:
    return parse_stored(value) if value else None


def load_cursor(conn: Connection, resource: Resource) -> CursorState:
    row = conn.execute(select(cursor).where(cursor.c.resource == resource.value)).first()
    if row is None:
        return CursorState()
    pos = None
    if row.pass_ts_raw and row.pass_ts and row.pass_id:
        pos = Position(parse_stored(row.pass_ts), row.pass_ts_raw, uuid.UUID(row.pass_id))
    return CursorState(complete_before=_dt(row.complete_before), pass_pos=pos, pass_floor=_dt(row.pass_floor))


_CURSOR_COLUMNS = (
    "complete_before", "pass_ts_raw", "pass_ts", "pass_id", "pass_floor", "last_hub_date", "updated_at"
)
# saved with every page, so built once
_SAVE = (
    update(cursor)
    .where(cursor.c.resource == bindparam("key"))
    .values({c: bindparam(f"new_{c}") for c in _CURSOR_COLUMNS})
)


def save_cursor(
    conn: Connection, resource: Resource, state: CursorState, *, hub_date: datetime | None, now: datetime
) -> None:
    pos = state.pass_pos
    values = {
        "complete_before": format_canonical(state.complete_before) if state.complete_before else None,
        "pass_ts_raw": pos.updated_at_raw if pos else None,
        "pass_ts": format_canonical(pos.updated_at) if pos else None,
        "pass_id": str(pos.id) if pos else None,
        "pass_floor": format_canonical(state.pass_floor) if state.pass_floor else None,
        "last_hub_date": format_canonical(hub_date) if hub_date else None,
        "updated_at": format_canonical(now),
    }
    done = conn.execute(_SAVE, {"key": resource.value, **{f"new_{c}": v for c, v in values.items()}})
    if done.rowcount == 0:
        conn.execute(insert(cursor).values(resource=resource.value, **values))


def restart_cursor(conn: Connection, resource: Resource, *, now: datetime) -> None:
    """Send ``resource``'s stream back to the beginning: its next pass reads every row again.

    Nothing applied is undone; rows read again that are already applied count as unchanged.
    """
    conn.execute(
        update(cursor)
        .where(cursor.c.resource == resource.value)
        .values(
            complete_before=None,
            pass_ts_raw=None,
            pass_ts=None,
            pass_id=None,
            pass_floor=None,
            updated_at=format_canonical(now),
        )
    )


def read_meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()
    return None if value is None else str(value)


def write_meta(conn: Connection, key: str, value: str) -> None:
    done = conn.execute(update(meta).where(meta.c.key == key).values(value=value))
    if done.rowcount == 0:
        conn.execute(insert(meta).values(key=key, value=value))
