"""Which pushed objects the repository already holds (docs/performance.md).

dulwich completes a thin pack by appending the bases its deltas need, objects the
repository had: accepted before, they are not checked again. ``sha in store`` lists the
pack folder on every call (10,000 pushed objects cost seconds), so a plain
repository's packs are listed once — and listed again when a repack
(``hooks/repack.py``, which the checks do not wait for) replaced them meanwhile.
"""

from __future__ import annotations

import os

from dulwich.object_store import BaseObjectStore, DiskObjectStore
from dulwich.pack import PackFileDisappeared

from dakora.hooks.pushed_objects import StoredObject
from dakora.registry.git import as_oid, as_raw_oid


def not_stored(
    existing: BaseObjectStore, objects: list[StoredObject]
) -> list[StoredObject]:
    """The objects the repository's store lacks. A plain repository's pack indexes
    are listed once (``sha in store`` lists the pack folder on every call: 10,000
    pushed objects cost seconds), loose objects looked up only when it has any."""
    if not isinstance(existing, DiskObjectStore) or existing.alternates:
        return [o for o in objects if as_oid(o.sha) not in existing]
    packs = list(existing.packs)
    try:
        loose = any(len(n) == 2 for n in os.listdir(existing.path))
    except OSError:
        loose = True
    out: list[StoredObject] = []
    for obj in objects:
        raw = as_raw_oid(bytes.fromhex(obj.sha.decode("ascii")))
        try:
            if any(raw in pack for pack in packs):
                continue
        except PackFileDisappeared:
            # a repack (hooks/repack.py) replaced the packs since they were listed;
            # it carried every object over: ask the store itself, which lists the
            # packs again, and go on with the new list
            packs = list(existing.packs)
            if as_oid(obj.sha) in existing:
                continue
        if loose and existing.contains_loose(as_oid(obj.sha)):
            continue
        out.append(obj)
    return out
