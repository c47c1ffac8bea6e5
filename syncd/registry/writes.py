"""Writes: new local records, updates, deletes; rows the hub owns are refused.

A space or block is owned by the hub when syncd has mapped it (a row in
``syncd_space_map`` / ``syncd_block_map``). Plain LaminDB instances have no
such tables, and then nothing is hub-owned.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from syncd.registry import errors
from syncd.registry.connection import Instance, current
from syncd.registry.lookups import starts_with
from syncd.store.dialects import dialect_for

if TYPE_CHECKING:
    from syncd.registry.record import Record

__all__ = ["delete_records", "hash_string", "new_record_values", "save_record"]

log = structlog.get_logger("syncd.registry")

_BASE62 = string.digits + string.ascii_letters.swapcase()
_BUILTIN_SPACE_ID = 1


def hash_string(text: str) -> str:
    """LaminDB's content hash: urlsafe base64 of the MD5 digest, ``=`` stripped, 22 characters."""
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().strip("=")[:22]


def _base62(n: int) -> str:
    return "".join(secrets.choice(_BASE62) for _ in range(n))


def _increment(suffix: str) -> str:
    digits = [_BASE62.index(c) for c in suffix]
    for i in range(len(digits) - 1, -1, -1):
        digits[i] += 1
        if digits[i] < len(_BASE62):
            break
        digits[i] = 0
    return "".join(_BASE62[d] for d in digits)


def _refuse_read_only(registry: type[Record]) -> None:
    if registry._meta.read_only:
        raise errors.ReadOnlyRegistryError(
            f"{registry.__name__} is read-only in syncd.registry; use LaminDB to write it")


def new_record_values(registry: type[Record], values: dict[str, Any]) -> dict[str, Any]:
    """The fields of a new, unsaved record, with LaminDB's defaults."""
    from syncd.registry.record import Record

    _refuse_read_only(registry)
    meta = registry._meta
    fields: dict[str, Any] = {}
    for key, value in values.items():
        if key in meta.forward:
            fields[meta.forward[key].column] = value.id if isinstance(value, Record) else value
        elif key in meta.columns and key != "id":
            fields[key] = value
        else:
            raise errors.FieldError(f"{registry.__name__}() got an unexpected field '{key}'. "
                                    f"Available fields: {', '.join(meta.available)}")
    now = datetime.now(UTC)
    if registry.__name__ == "Space":
        if not fields.get("name"):
            raise errors.FieldError("Space() needs a name")
        base: dict[str, Any] = {
            "uid": _base62(12), "description": None, "created_by_id": None, "created_at": now}
    else:
        kind = fields.get("kind")
        if kind not in ("readme", "comment"):
            raise errors.FieldError(f"SpaceBlock() needs kind='readme' or kind='comment', not {kind!r}")
        if fields.get("space_id") is None:
            raise errors.FieldError("SpaceBlock() needs a space")
        content = fields.get("content") or ""
        base = {"uid": _base62(16) + "0000", "content": content,
                "hash": hash_string(content) if content else None,
                "version_tag": None, "is_latest": True, "created_at": now, "created_by_id": None,
                "_status_code": 0, "branch_id": 1, "created_on_id": 1}
    return {"id": None, **base, **fields}


def _hub_owned(conn: Connection, instance: Instance, registry: type[Record], ids: Sequence[int]) -> list[int]:
    table = registry._hub_map
    if table is None or not ids or not instance.has_table(table.name):
        return []
    rows = conn.execute(select(table.c.local_id).where(table.c.local_id.in_(list(ids)))).scalars()
    return sorted(int(r) for r in rows)


def _owned_error(
    registry: type[Record], records: Sequence[Record], owned: list[int], action: str,
) -> Exception:
    shown = ", ".join(repr(r.__dict__.get("uid")) for r in records if r.id in owned)
    return errors.HubOwnedError(
        f"cannot {action} {registry.__name__} {shown}: it is synchronised from the hub, which owns it; "
        "make the change on the hub and let syncd bring it here")


def save_record(record: Record) -> None:
    registry = type(record)
    _refuse_read_only(registry)
    instance = record._instance or current()
    meta = registry._meta
    values = {c: record.__dict__.get(c) for c in meta.columns if c != "id"}
    try:
        with instance.write() as conn:
            _write(conn, instance, record, values)
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0]
        raise errors.FieldError(f"cannot save {registry.__name__}: {reason}") from None
    record.__dict__["_instance"] = instance


def _write(conn: Connection, instance: Instance, record: Record, values: dict[str, Any]) -> None:
    registry = type(record)
    meta = registry._meta
    if record.id is not None:
        owned = _hub_owned(conn, instance, registry, [record.id])
        if owned:
            raise _owned_error(registry, [record], owned, "save")
        conn.execute(update(meta.table).where(meta.table.c.id == record.id).values(values))
        return
    if values.get("created_by_id") is None and registry.__name__ == "SpaceBlock":
        values["created_by_id"] = conn.execute(select(_first_user())).scalar_one()
    if registry.__name__ == "SpaceBlock" and values["kind"] == "readme":
        _version_readme(conn, instance, registry, values)
    new_id = conn.execute(insert(meta.table).values(values).returning(meta.table.c.id)).scalar_one()
    if registry.__name__ == "Space":
        log.warning("registry.space.created", name=values["name"], note=(
            "creating spaces manually is possible for demo purposes, "
            "but does *not* affect access permissions"))
    record.__dict__.update(values)
    record.__dict__["id"] = new_id


def _first_user() -> Any:
    from syncd.store.schema import user

    return func.min(user.c.id)


def _version_readme(
    conn: Connection, instance: Instance, registry: type[Record], values: dict[str, Any],
) -> None:
    """A new readme revises the space's latest readme: same 16-character stem, next suffix.

    A latest readme that came from the hub is the hub's to revise: demoting it here
    would change a hub-owned row, and the hub's own next version would then find
    its uid taken.
    """
    table = registry._meta.table
    previous = conn.execute(
        select(table.c.id, table.c.uid, table.c.hash).where(
            table.c.space_id == values["space_id"], table.c.kind == "readme", table.c.is_latest.is_(True),
            table.c.branch_id == values["branch_id"],
        ).order_by(table.c.created_at.desc()).limit(1)).first()
    if previous is None:
        return
    if _hub_owned(conn, instance, registry, [previous.id]):
        raise errors.HubOwnedError(
            f"cannot save a new readme for space {values['space_id']}: its latest readme {previous.uid!r} "
            "is synchronised from the hub, which owns it, and a new readme would revise it; "
            "make the change on the hub and let syncd bring it here")
    stem = previous.uid[:16]
    # case-sensitively: SQLite's LIKE would take a stem differing only in case for this one
    same_stem = starts_with(table.c.uid, stem, dialect_for(conn))
    newest = conn.execute(select(func.max(table.c.uid)).where(same_stem)).scalar_one()
    values["uid"] = stem + _increment(str(newest)[16:20])
    conn.execute(update(table).where(table.c.id == previous.id).values(is_latest=False))


def delete_records(
    registry: type[Record], instance: Instance, records: Sequence[Record], *, permanent: bool | None,
    soft_allowed: bool = False,
) -> int:
    """Delete records for good (or move blocks to the trash when ``soft_allowed`` and not permanent)."""
    _refuse_read_only(registry)
    meta = registry._meta
    soft = soft_allowed and meta.has_branch and not permanent
    if permanent is False and not soft:
        raise errors.InvalidArgument(
            f"Soft delete is not possible for {registry.__name__}, "
            "use 'permanent=True' or 'permanent=None' for permanent deletion.")
    ids = [r.id for r in records if r.id is not None]
    if not ids:
        return 0
    if registry.__name__ == "Space" and _BUILTIN_SPACE_ID in ids:
        raise errors.InvalidArgument("the built-in space 'all' (id 1) cannot be deleted")
    with instance.write() as conn:
        owned = _hub_owned(conn, instance, registry, ids)
        if owned:
            raise _owned_error(registry, records, owned, "delete")
        if soft:
            conn.execute(update(meta.table).where(meta.table.c.id.in_(ids)).values(branch_id=-1))
            log.warning("registry.moved_to_trash", registry=registry.__name__, count=len(ids))
            return len(ids)
        try:
            if registry.__name__ == "Space":
                _delete_blocks_of(conn, instance, ids)
            if meta.versioned:
                _promote_previous(conn, instance, registry, ids)
            conn.execute(delete(meta.table).where(meta.table.c.id.in_(ids)))
        except IntegrityError as exc:
            raise errors.InvalidArgument(
                f"cannot delete {registry.__name__} {ids}: other records still reference it "
                f"({str(exc.orig).splitlines()[0]})") from None
    return len(ids)


def _delete_blocks_of(conn: Connection, instance: Instance, space_ids: list[int]) -> None:
    from syncd.registry.model import registry_named

    blocks = registry_named("SpaceBlock")
    table = blocks._meta.table
    block_ids = list(conn.execute(select(table.c.id).where(table.c.space_id.in_(space_ids))).scalars())
    if _hub_owned(conn, instance, blocks, block_ids):
        raise errors.HubOwnedError(
            f"cannot delete Space {space_ids}: it holds blocks synchronised from the hub, which owns them")
    if block_ids:
        conn.execute(delete(table).where(table.c.id.in_(block_ids)))


def _promote_previous(conn: Connection, instance: Instance, registry: type[Record], ids: list[int]) -> None:
    """Deleting a latest version makes the newest remaining version of its stem (per branch) latest.

    A version that came from the hub is left as the hub has it: syncd keeps its ``is_latest``.
    """
    table = registry._meta.table
    heads = conn.execute(select(table.c.uid, table.c.branch_id).where(
        table.c.id.in_(ids), table.c.is_latest.is_(True))).all()
    for uid, branch_id in heads:
        successor = conn.execute(select(table.c.id).where(
            starts_with(table.c.uid, uid[:16], dialect_for(conn)), table.c.branch_id == branch_id,
            table.c.id.not_in(ids),
        ).order_by(table.c.created_at.desc()).limit(1)).scalar()
        if successor is not None and not _hub_owned(conn, instance, registry, [successor]):
            conn.execute(update(table).where(table.c.id == successor).values(is_latest=True))
