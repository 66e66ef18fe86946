"""Every rule a prompt repository obeys, in one place used by ``dakora lint``, the receive
pipeline and API writes: per-file rules (``files``), version bump and immutability
(``versions``), part dependencies (``part_deps``), the ref rules of a push (``refs``),
its size and count limits (``limits``), and the two entry points ``check_snapshot``
and ``check_push`` (``run``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.checks.limits import (
    PushLimits,
    limit_findings,
    refs_limit_findings,
)
from dakora.registry.checks.refs import (
    is_protected,
    protected_findings,
    protected_refs_at,
    ref_name_findings,
)
from dakora.registry.checks.run import check_push, check_snapshot
from dakora.registry.checks.versions import version_step_valid
from dakora.registry.git import VersionLookup

__all__ = [
    "PushLimits",
    "VersionLookup",
    "check_push",
    "check_snapshot",
    "is_protected",
    "limit_findings",
    "protected_findings",
    "protected_refs_at",
    "ref_name_findings",
    "refs_limit_findings",
    "version_step_valid",
]
