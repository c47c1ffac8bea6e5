"""Live hub rows an instance lacks, or holds in another version, although its stream has gone past them.

Found by a complete key listing (``syncd run-once --full``).

The change stream only shows rows stamped after an instance's cursor. A row
can become visible to a token without being re-stamped (the hub grants access
to an old space); such a row never comes through the stream. A complete key
listing shows it: live, stamped before the cursor's ``complete_before``, yet
neither synced here nor parked (deferred, quarantined). Then the resource's
stream is sent back to the beginning, in the listing's transaction.

Some live rows are legitimately absent for good: blocks of a space deleted on
the hub stay live there but cannot exist locally. So every id found missing
is remembered in ``syncd_unseen`` (and blocks removed with their space are
entered there at once); only ids not remembered yet send the stream back, and
ids that stop being missing are forgotten. A restored space re-reads its
blocks through :mod:`syncd.store.spaces`, whatever is remembered here.

A synced row listed with another ``updated_at`` than the version applied here,
stamped before ``complete_before``, sends the stream back too: a late commit
can re-stamp a row older than the version already served, and a syncd that
preferred newer stamps kept the old content. The stream's next pass applies
what differs by content and writes nothing for the rest.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, Insert, String, bindparam, cast, delete, insert, select

from syncd.core.listing import KeyListing
from syncd.core.models import Resource
from syncd.core.resources import describe
from syncd.core.results import ApplyResult, Rescan
from syncd.core.timestamps import format_canonical
from syncd.store.context import ApplyContext
from syncd.store.cursors import load_cursor, restart_cursor
from syncd.store.keysets import among, key_rows, key_set, prepared
from syncd.store.schema import deferred, map_table, quarantine, unseen

__all__ = ["remember_unseen", "rescan_unseen"]


def _known(conn: Connection, resource: Resource) -> set[str]:
    return set(conn.execute(select(unseen.c.hub_id).where(unseen.c.resource == resource.value)).scalars())


def remember_unseen(conn: Connection, resource: Resource, hub_ids: Collection[str]) -> None:
    """Record live hub rows this instance lacks on purpose, so that no listing re-reads for them."""
    wanted = sorted(set(hub_ids))
    if not wanted:
        return
    statement = prepared(conn, "remember_unseen", _remember_new)
    if statement is not None:  # one statement a page, not a lookup and then an INSERT per id
        conn.execute(statement, {"resource": resource.value, "ids": key_set(conn, wanted)})
        return
    query = select(unseen.c.hub_id).where(
        unseen.c.resource == resource.value, among(conn, unseen.c.hub_id, wanted)
    )
    known = set(conn.scalars(query))
    fresh = [h for h in wanted if h not in known]
    if fresh:
        conn.execute(insert(unseen), [{"resource": resource.value, "hub_id": h} for h in fresh])


def _remember_new(conn: Connection) -> Insert | None:
    """``INSERT`` the key set ``ids`` not yet remembered for ``resource``; None without key sets."""
    ids = key_rows(conn, "ids")
    if ids is None:
        return None
    resource = cast(bindparam("resource", type_=String()), String(32))
    # one primary-key probe per id (NOT IN would read every id remembered so far, on every page)
    held = select(unseen.c.hub_id).where(unseen.c.resource == resource, unseen.c.hub_id == ids.c.value)
    return insert(unseen).from_select(
        ["resource", "hub_id"], select(resource, ids.c.value).where(~held.exists())
    )


def _forget(conn: Connection, resource: Resource, hub_ids: list[str]) -> None:
    if hub_ids:
        conn.execute(
            delete(unseen).where(unseen.c.resource == resource.value, among(conn, unseen.c.hub_id, hub_ids))
        )


def _parked(conn: Connection, resource: Resource) -> set[str]:
    """Hub ids parked here (deferred, quarantined)."""
    ids = set(conn.execute(select(deferred.c.hub_id).where(deferred.c.resource == resource.value)).scalars())
    ids.update(
        conn.execute(select(quarantine.c.row_key).where(quarantine.c.resource == resource.value)).scalars()
    )
    return ids


def _accounted_for(conn: Connection, resource: Resource) -> set[str]:
    """Hub ids synced here or parked (deferred, quarantined)."""
    table = map_table(describe(resource))
    return set(conn.execute(select(table.c.hub_id)).scalars()) | _parked(conn, resource)


def rescan_unseen(
    conn: Connection, resource: Resource, listing: KeyListing, ctx: ApplyContext
) -> ApplyResult:
    """Send ``resource``'s stream back to the beginning if the listing shows rows it went past unseen.

    Only call with a complete listing. An instance without a ``complete_before``
    has no stream position to judge by and is left as it is.
    """
    result = ApplyResult()
    complete_before = load_cursor(conn, resource).complete_before
    if complete_before is None:
        return result
    absent = listing.ids - _accounted_for(conn, resource)
    known = _known(conn, resource)
    _forget(conn, resource, sorted(known - absent))  # arrived here, or no longer live on the hub
    # rows stamped since complete_before are still to come through the stream (committed while
    # the listing was read, say): only the ones it has gone past are missing
    past = listing.listed_before(complete_before)
    new = sorted((absent & past) - known)
    if new:
        conn.execute(insert(unseen), [{"resource": resource.value, "hub_id": h} for h in new])
        result.rescans.append(Rescan(resource, "rows_missing", tuple(new)))
    differ = _differing_versions(conn, resource, listing, past)
    if differ:
        result.rescans.append(Rescan(resource, "versions_differ", tuple(differ)))
    if result.rescans:
        restart_cursor(conn, resource, now=ctx.now)
    return result


def _differing_versions(
    conn: Connection, resource: Resource, listing: KeyListing, past: set[str]
) -> list[str]:
    """Synced rows the stream has gone past whose listed stamp is not the stamp of the version applied.

    The stream reads again from the beginning then, and applies what differs by
    content (:mod:`syncd.store.spaces`, :mod:`syncd.store.blocks`).
    """
    table = map_table(describe(resource))
    parked = _parked(conn, resource)
    differ = []
    for hub_id, applied in conn.execute(select(table.c.hub_id, table.c.hub_updated_at)):
        listed = listing.stamps.get(hub_id)
        if listed is None or hub_id not in past or hub_id in parked:
            continue
        if format_canonical(listed) != applied:
            differ.append(hub_id)
    return sorted(differ)
