"""The store's binding of ``space_block``: applied by :mod:`syncd.store.blocks`.

Its tables, ``lamindb_spaceblock`` and ``syncd_block_map``, are in
:mod:`syncd.store.schema`: the space code, migrations and the registry read
them too.
"""

from __future__ import annotations

from syncd.core.models import Resource
from syncd.core.resources import describe
from syncd.store.binding import StoreResource
from syncd.store.blocks import apply_blocks, remove_blocks

__all__ = ["BINDING"]

BINDING = StoreResource(describe(Resource.SPACE_BLOCK), apply_blocks, remove_blocks, parent_key="space_id")
