"""What an instance database says about its sync state, read without a running daemon."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from syncd.errors import InstanceUnreachableError
from syncd.settings import InstanceSettings
from syncd.store.engine import create_instance_engine
from syncd.store.schema import cursor, deferred, meta, quarantine, space_map

__all__ = ["read_status"]


def read_status(instance: InstanceSettings) -> dict[str, Any]:
    """Cursors, last success and error, deferred/quarantined/held rows of one instance."""
    engine = create_instance_engine(instance.url.reveal())
    try:
        with engine.connect() as conn:
            if "syncd_cursor" not in inspect(conn).get_table_names():
                return {"instance": instance.name, "synced": False, "cursors": {}}
            metas = {k: v for k, v in conn.execute(select(meta.c.key, meta.c.value))}
            cursors = {
                row.resource: {
                    "complete_before": row.complete_before,
                    "pass_in_progress": row.pass_ts_raw is not None,
                    "pass_at": row.pass_ts,
                    "last_hub_date": row.last_hub_date,
                }
                for row in conn.execute(select(cursor))
            }
            by_reason = conn.execute(
                select(deferred.c.resource, deferred.c.reason, func.count()).group_by(
                    deferred.c.resource, deferred.c.reason
                )
            ).all()
            bad = conn.execute(
                select(quarantine.c.resource, quarantine.c.row_key, quarantine.c.reason)
                .order_by(quarantine.c.resource, quarantine.c.row_key)
                .limit(50)
            ).all()
            n_bad = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
            held = list(
                conn.execute(select(space_map.c.uid).where(space_map.c.tombstoned_at.is_not(None))).scalars()
            )
    except SQLAlchemyError as exc:
        raise InstanceUnreachableError(f"cannot read {instance.display_url}: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    last_error = json.loads(metas["last_error"]) if "last_error" in metas else None
    return {
        "instance": instance.name,
        "synced": True,
        "last_success": metas.get("last_success"),
        "last_error": last_error,
        "cursors": cursors,
        "deferred": sum(n for _, _, n in by_reason),
        "deferred_by_reason": [{"resource": r, "reason": why, "rows": n} for r, why, n in by_reason],
        "quarantined": int(n_bad),
        "quarantine_sample": [{"resource": r, "key": k, "reason": why} for r, k, why in bad],
        "held_spaces": held,
    }
