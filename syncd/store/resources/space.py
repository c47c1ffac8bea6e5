"""The store's binding of ``space``: applied by :mod:`syncd.store.spaces`.

Its tables, ``lamindb_space`` and ``syncd_space_map``, are in
:mod:`syncd.store.schema`: the block code, migrations, status and the registry
read them too.
"""

from __future__ import annotations

from syncd.core.models import Resource
from syncd.core.resources import describe
from syncd.store.binding import StoreResource
from syncd.store.spaces import apply_spaces, remove_spaces, retry_held_spaces

__all__ = ["BINDING"]

BINDING = StoreResource(describe(Resource.SPACE), apply_spaces, remove_spaces, retry_held=retry_held_spaces)
