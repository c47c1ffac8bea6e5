"""What an instance database says about its sync state, read without a running daemon."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from syncd.errors import InstanceUnreachableError
from syncd.logs import scrub
from syncd.secrets import Secret
from syncd.settings import InstanceSettings
from syncd.store.dialects import dialect_for
from syncd.store.freshness import read_in_step
from syncd.store.schema import cursor, deferred, in_step, meta, quarantine, space_map

__all__ = ["read_status"]


def _reason(exc: BaseException, url: str) -> str:
    """The driver's own first line (``file is not a database``), with the password masked."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    said = str(orig).strip()
    message = said.splitlines()[0] if said else type(orig).__name__
    password = make_url(url).password
    return message.replace(str(password), "***") if password else message


def _read_only_engine(url: str, display_url: str, password: Secret | None) -> Engine | None:
    """An engine that cannot create or change the database; None for a database not created yet."""
    parsed = make_url(url)
    dialect = dialect_for(parsed)
    path = dialect.database_file(parsed)
    if path is not None and not path.exists() and not path.parent.is_dir():
        raise InstanceUnreachableError(f"cannot open {display_url}: no such directory {path.parent}")
    return dialect.read_only_engine(parsed, password=password, connect_timeout=10)


def read_status(instance: InstanceSettings) -> dict[str, Any]:
    """Cursors, last success and error, deferred/quarantined/held rows of one instance.

    Reads only: a SQLite file is opened read-only. Raises
    :class:`~syncd.errors.InstanceUnreachableError` with the driver's reason
    (as ``run-once`` reports it) when the database cannot be opened or read.
    """
    url = instance.url.reveal()
    engine = _read_only_engine(url, instance.display_url, instance.password)
    if engine is None:
        return {"instance": instance.name, "synced": False, "cursors": {}}
    try:
        try:
            conn = engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            reason = _reason(exc, url)
            raise InstanceUnreachableError(f"cannot open {instance.display_url}: {reason}") from None
        with conn:
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
            record = read_in_step(conn) if inspect(conn).has_table(in_step.name) else None
    except SQLAlchemyError as exc:
        raise InstanceUnreachableError(f"cannot read {instance.display_url}: {_reason(exc, url)}") from None
    finally:
        engine.dispose()
    last_error = json.loads(metas["last_error"]) if "last_error" in metas else None
    if isinstance(last_error, dict) and isinstance(last_error.get("error"), str):
        # written by the run that failed; shown here through the same redaction as the logs
        last_error["error"] = scrub(last_error["error"])
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
        "in_step": record,
    }
