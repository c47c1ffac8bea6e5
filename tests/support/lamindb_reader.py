"""Read a LaminDB instance through LaminDB itself and print what it sees as one JSON line.

Run in a child process by ``test_lamindb_compat.py`` (LaminDB configures
Django globally, once per process). The instance comes from
``LAMIN_CURRENT_INSTANCE`` and ``LAMIN_SETTINGS_DIR``. Output: a line
``LAMINDB-READ {json}`` (LaminDB prints its own lines too).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def main() -> int:
    import lamindb as ln

    space_block = ln.models.SpaceBlock
    spaces = []
    for space in ln.Space.filter().order_by("id"):
        again = ln.Space.get(space.uid)  # lookup by uid, as users do
        assert again.id == space.id
        spaces.append({
            "id": space.id,
            "uid": space.uid,
            "name": space.name,
            "description": space.description,
            "created_at": _iso(space.created_at),
            "created_by": None if space.created_by is None else space.created_by.handle,
            "created_by_uid": None if space.created_by is None else space.created_by.uid,
            "ablocks": sorted(b.uid for b in space.ablocks.all()),
        })
    blocks = [{
        "uid": block.uid,
        "space": block.space.uid,
        "content": block.content,
        "hash": block.hash,
        "kind": block.kind,
        "version_tag": block.version_tag,
        "is_latest": block.is_latest,
        "created_at": _iso(block.created_at),
        "created_by": block.created_by.handle,
        "created_by_uid": block.created_by.uid,
        "branch": block.branch_id,
    } for block in space_block.filter().order_by("id")]
    by_name = {s["name"]: ln.Space.filter(name=s["name"]).count() for s in spaces}
    latest = space_block.filter(is_latest=True).count()
    print("LAMINDB-READ " + json.dumps({"spaces": spaces, "blocks": blocks, "by_name": by_name,
                                        "latest": latest, "dialect": ln.setup.settings.instance.dialect}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
