"""Start-up repair: what a killed server left behind, and an index that lags the refs.

For every project, under its push lock: delete stale quarantine directories, orphan
packs and ref ``.lock`` files (``quarantine.cleanup_stale``), then compare the refs table
with the repository's refs and reindex when they differ (``index.reconcile_project``;
the git refs are the truth, docs/design.md §6 "Repair").
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from dakora.hooks.locks import ProjectLock, default_project_lock
from dakora.hooks.quarantine import cleanup_stale

logger = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    cleaned: dict[str, list[str]] = field(default_factory=dict)
    reindexed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def recover_projects(engine: Any, *, lock: ProjectLock | None = None) -> RecoveryReport:
    """Clean and reconcile every project's repository (call once at start-up)."""
    from dakora.registry.index import reconcile_project
    from dakora.registry.tenancy import list_projects

    lock = lock or default_project_lock()
    report = RecoveryReport()
    for project in list_projects(engine):
        path = os.path.abspath(str(project.repo_path))
        name = f"{project.workspace_slug}/{project.slug}"
        if not os.path.isdir(path):
            continue
        try:
            with lock.hold(path):
                removed = cleanup_stale(path)
                if removed:
                    report.cleaned[name] = removed
                if reconcile_project(engine, project) is not None:
                    report.reindexed.append(name)
                    logger.warning(
                        "index of %s disagreed with its refs: reindexed", name
                    )
        except Exception as exc:  # one broken project must not stop the server
            logger.exception("recovering %s failed", name)
            report.failed[name] = str(exc)
    return report
