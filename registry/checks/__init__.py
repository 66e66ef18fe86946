"""Every rule a prompt repository obeys, in one place used by ``dakora lint``, the receive
pipeline and API writes: per-file rules (``files``), version bump and immutability
(``versions``), part dependencies (``part_deps``), and the two entry points
``check_snapshot`` and ``check_push`` (``run``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.checks.run import check_push, check_snapshot
from dakora.registry.checks.versions import VersionLookup

__all__ = [
    "VersionLookup",
    "check_push",
    "check_snapshot",
]
