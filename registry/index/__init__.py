"""The database index derived from a project's git refs: the push pipeline's writer, full
reindex and reconciliation (``writer``), the rows it writes (``rows``), where it reads
prompt sets from (``sources``), and importing a local repository into a project
(``importer``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.index.importer import (
    import_into_project,
    import_version_lookup,
    source_default_branch,
)
from dakora.registry.index.writer import index_project, reconcile_project

__all__ = [
    "import_into_project",
    "import_version_lookup",
    "index_project",
    "reconcile_project",
    "source_default_branch",
]
