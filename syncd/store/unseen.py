"""Live hub rows an instance lacks although its stream has gone past them, found by a key listing.

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
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, delete, insert, select

from syncd.listing import KeyListing
from syncd.models import Resource
from syncd.store.context import ApplyContext, ApplyResult, Rescan
from syncd.store.cursors import load_cursor, restart_cursor
from syncd.store.keysets import among
from syncd.store.schema import block_map, deferred, quarantine, space_map, unseen

__all__ = ["remember_unseen", "rescan_unseen"]


def _known(conn: Connection, resource: Resource) -> set[str]:
    return set(conn.execute(select(unseen.c.hub_id).where(unseen.c.resource == resource.value)).scalars())


def remember_unseen(conn: Connection, resource: Resource, hub_ids: Collection[str]) -> None:
    """Record live hub rows this instance lacks on purpose, so that no listing re-reads for them."""
    wanted = sorted(set(hub_ids))
    query = select(unseen.c.hub_id).where(
        unseen.c.resource == resource.value, among(conn, unseen.c.hub_id, wanted)
    )
    known = set(conn.scalars(query))
    fresh = [h for h in wanted if h not in known]
    if fresh:
        conn.execute(insert(unseen), [{"resource": resource.value, "hub_id": h} for h in fresh])


def _forget(conn: Connection, resource: Resource, hub_ids: list[str]) -> None:
    if hub_ids:
        conn.execute(
            delete(unseen).where(unseen.c.resource == resource.value, among(conn, unseen.c.hub_id, hub_ids))
        )


def _accounted_for(conn: Connection, resource: Resource) -> set[str]:
    """Hub ids synced here or parked (deferred, quarantined)."""
    table = space_map if resource is Resource.SPACE else block_map
    ids = set(conn.execute(select(table.c.hub_id)).scalars())
    ids.update(conn.execute(select(deferred.c.hub_id).where(deferred.c.resource == resource.value)).scalars())
    ids.update(
        conn.execute(select(quarantine.c.row_key).where(quarantine.c.resource == resource.value)).scalars()
    )
    return ids


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
    new = sorted((absent & listing.listed_before(complete_before)) - known)
    if new:
        conn.execute(insert(unseen), [{"resource": resource.value, "hub_id": h} for h in new])
        restart_cursor(conn, resource, now=ctx.now)
        result.rescans.append(Rescan(resource, "rows_missing", tuple(new)))
    return result
