"""The checks: one module used by ``dakora lint``, the receive pipeline and API writes.

Each finding: severity, path, line, message, rule id (see ``RULES``).
"""

from __future__ import annotations

from collections.abc import Callable

from dakora.registry.findings import Finding
from dakora.registry.snapshot import Snapshot

# Looks up, across every ref of the project, which blob a (prompt id, version) names;
# None when that version was never used. Lets the version-immutability rule see history
# beyond the parent commit (other branches, tags, the DB index).
VersionLookup = Callable[[str, str], "str | None"]


def check_snapshot(
    snapshot: Snapshot,
    *,
    parent: Snapshot | None = None,
    version_lookup: VersionLookup | None = None,
    paths: list[str] | None = None,
) -> list[Finding]:
    """Check a snapshot; with ``parent`` also the version rules of DESIGN §5.

    ``paths`` limits per-file checks to changed files (whole-repo rules such as unique
    ids still run).
    """
    raise NotImplementedError
