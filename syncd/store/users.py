"""Map hub accounts (``created_by``) to ``lamindb_user`` rows by ``uid``.

A missing user is created with the hub's handle and name. Existing users are
never renamed or rewritten. When the handle is already taken locally by a
different uid, the new user gets ``<handle cut to 21>~<uid>`` (unique, at most
30 characters) and ``syncd_user_alias`` records the hub handle: nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Select, insert, select

from syncd.core.models import Creator
from syncd.store.keysets import among, fetch_rows
from syncd.store.schema import user, user_alias

__all__ = ["aliased_handle", "resolve_users", "users_among"]


def aliased_handle(handle: str, uid: str) -> str:
    """The documented way out of a handle collision: ``<handle[:21]>~<uid>``."""
    return f"{handle[:21]}~{uid}"


def users_among(conn: Connection, lnids: Iterable[str]) -> Select[tuple[str, int]]:
    """The lookup of (uid, local id) of the users with these hub lnids."""
    return select(user.c.uid, user.c.id).where(among(conn, user.c.uid, list(set(lnids))))


def resolve_users(
    conn: Connection, creators: Iterable[Creator], looked_up: Iterable[tuple[str, int]] | None = None
) -> dict[str, int]:
    """Local user ids by hub account lnid, creating the users that are missing.

    ``looked_up`` is the result of :func:`users_among` for these creators, when
    the caller has already run it (in the same transaction).
    """
    wanted: dict[str, Creator] = {}
    for creator in creators:
        wanted.setdefault(creator.lnid, creator)
    if not wanted:
        return {}
    if looked_up is None:
        looked_up = fetch_rows(conn, users_among(conn, wanted))
    found: dict[str, int] = {uid: int(local) for uid, local in looked_up}
    missing = [c for lnid, c in wanted.items() if lnid not in found]
    if missing:
        taken = set(
            conn.execute(
                select(user.c.handle).where(user.c.handle.in_([c.handle for c in missing]))
            ).scalars()
        )
        for creator in missing:
            handle = creator.handle
            if handle in taken:
                handle = aliased_handle(creator.handle, creator.lnid)
                conn.execute(
                    insert(user_alias).values(
                        uid=creator.lnid, hub_handle=creator.handle, local_handle=handle
                    )
                )
            taken.add(handle)
            new_id = conn.execute(
                insert(user).values(uid=creator.lnid, handle=handle, name=creator.name).returning(user.c.id)
            ).scalar_one()
            found[creator.lnid] = int(new_id)
    return found
