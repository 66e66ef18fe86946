"""dakora.registry.mirror — mirror project repositories to blob storage and back.

Layout per project prefix ``<workspace>/<project>/`` (docs/design.md §10):

- ``objects/pack/pack-<sha>.pack`` and ``.idx`` — immutable, uploaded create-only,
  the ``.pack`` before its ``.idx``;
- ``refs.json`` — the refs manifest, written last with an ETag condition
  (compare-and-swap; a 412 re-reads and retries);
- ``prompts/<id>/<version>.yaml`` — a readable copy of each prompt version.

Backends implement ``BlobStore``: a local folder (embedded default) and Azure Blob.
``ReplicaSync`` catches a replica's repository up to the index from the mirror.
"""

from dakora.registry.mirror.backends import (
    BlobStore,
    LocalFolderStore,
    check_store_settings,
    open_store,
)
from dakora.registry.mirror.outbox import (
    MirrorService,
    MirrorWorker,
    OutboxBacklog,
    ProjectRow,
    enqueue,
    outbox_backlog,
    queue_sync,
)
from dakora.registry.mirror.replica import ReplicaSync
from dakora.registry.mirror.sync import (
    MANIFEST_NAME,
    Manifest,
    MirrorBehind,
    SyncResult,
    hydrate_project,
    read_manifest,
    restore_project,
    sync_project,
)

__all__ = [
    "MirrorService",
    "MirrorWorker",
    "OutboxBacklog",
    "ProjectRow",
    "enqueue",
    "outbox_backlog",
    "queue_sync",
    "MANIFEST_NAME",
    "BlobStore",
    "LocalFolderStore",
    "Manifest",
    "MirrorBehind",
    "ReplicaSync",
    "SyncResult",
    "check_store_settings",
    "hydrate_project",
    "open_store",
    "read_manifest",
    "restore_project",
    "sync_project",
]
