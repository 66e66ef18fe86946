"""The database index derived from a project's git refs: the push pipeline's writer, full
reindex and reconciliation (``writer``), the rows it writes (``rows``), where it reads
prompt sets from (``sources``), the reads of the read path and the push pipeline
(``queries``), the push audit log (``push_log``), and importing a local repository
into a project (``importer``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.index.importer import (
    import_into_project,
    import_version_lookup,
    source_default_branch,
)
from dakora.registry.index.push_log import push_event_page, record_rejected_push
from dakora.registry.index.queries import (
    heads_at,
    index_version_lookup,
    indexed_refs,
    version_commit,
)
from dakora.registry.index.writer import (
    index_project,
    reconcile_project,
    record_ref_updates,
)

__all__ = [
    "heads_at",
    "import_into_project",
    "import_version_lookup",
    "index_project",
    "index_version_lookup",
    "indexed_refs",
    "push_event_page",
    "reconcile_project",
    "record_ref_updates",
    "record_rejected_push",
    "source_default_branch",
    "version_commit",
]
