"""The ref rules of a push: which refs may be pushed (``ref-name``), which may be
neither deleted nor force-pushed (``protected-ref``: the default branch and
``dakora.yaml``'s ``protected_refs``), and what a ref must point at (``ref-target``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, Tree
from dulwich.refs import check_ref_format

from dakora.registry.core import ZERO_SHA, Finding
from dakora.registry.git import as_oid, as_ref, short_ref
from dakora.registry.load import load_config

CONFIG_NAMES = (b"dakora.yaml", b"dakora.yml")


def ref_name_findings(ref: str, *, create: bool, delete: bool) -> list[Finding]:
    """``ref-name``: only valid branch and tag names, and something to do."""
    if not ref.startswith(("refs/heads/", "refs/tags/")):
        return [
            Finding.error(ref, None, "only branches and tags can be pushed", "ref-name")
        ]
    if not check_ref_format(as_ref(ref)):
        return [Finding.error(ref, None, "invalid ref name", "ref-name")]
    if delete and create:
        return [Finding.error(ref, None, "nothing to do", "ref-name")]
    return []


def is_protected(ref: str, default_branch: str, protected: Iterable[str]) -> bool:
    """The default branch, or a ref matching a ``protected_refs`` pattern (a full
    ``refs/…`` name, or a branch/tag name; ``fnmatch`` wildcards)."""
    if ref == f"refs/heads/{default_branch}":
        return True
    for pattern in protected:
        candidates = (
            [pattern]
            if pattern.startswith("refs/")
            else [f"refs/heads/{pattern}", f"refs/tags/{pattern}"]
        )
        if any(fnmatch.fnmatchcase(ref, c) for c in candidates):
            return True
    return False


def protected_refs_at(store: BaseObjectStore, commit: str | None) -> tuple[str, ...]:
    """``protected_refs`` of ``dakora.yaml`` at ``commit`` (empty when absent)."""
    if not commit or commit == ZERO_SHA:
        return ()
    try:
        obj = store[as_oid(commit)]
        if not isinstance(obj, Commit):
            return ()
        tree = store[obj.tree]
        if not isinstance(tree, Tree):
            return ()
        name = next((n for n in CONFIG_NAMES if n in tree), None)
        if name is None:
            return ()
        data = store[tree[name][1]].as_raw_string()
    except KeyError:
        return ()
    config, _findings = load_config(data)
    return tuple(config.protected_refs)


def protected_findings(ref: str, *, delete: bool, fast_forward: bool) -> list[Finding]:
    """``protected-ref`` of an update of a protected ref."""
    if delete:
        message = f"cannot delete the protected ref {short_ref(ref)}"
    elif not fast_forward:
        message = (
            "non-fast-forward update (force push) of the protected "
            f"ref {short_ref(ref)} is not allowed"
        )
    else:
        return []
    return [Finding.error(ref, None, message, "protected-ref")]
