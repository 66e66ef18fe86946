"""Which prompts a change to parts affects: the parts a change touches, directly or
through other parts that include them, found from the literal include/import names
of each file (a byte regex, cached by blob sha; no template parsing)."""

from __future__ import annotations

import re

from dakora.registry.core import LruCache
from dakora.registry.git import CONFIG_PATH, Snapshot
from dakora.registry.load import strip_extension

_INCLUDE_RE = re.compile(rb"""(?:include|import|from|extends)\s+(['"])([^'"\n]+)\1""")
_ALL = frozenset({"*"})
_TARGETS: LruCache[str, frozenset[str]] = LruCache(262_144)


def _literal_targets(snapshot: Snapshot, path: str) -> frozenset[str]:
    """Include/import names written as literals in a file (cached by blob sha)."""
    sha = snapshot.blob_sha(path)
    found = _TARGETS.get(sha)
    if found is None:
        data = snapshot.read(path)
        found = frozenset(
            strip_extension(m[2].decode("utf-8", "replace"))
            for m in _INCLUDE_RE.finditer(data)
        )
        _TARGETS.put(sha, found)
    return found


def affected_parts(
    snapshot: Snapshot, selected: set[str] | None, parts_dir: str
) -> frozenset[str] | None:
    """Names of the parts a change touches, directly or through other parts that
    include them; ``_ALL`` when dakora.yaml changed; None when no part changed."""
    if selected is None:
        return None
    if CONFIG_PATH in selected:
        return _ALL
    prefix = parts_dir + "/"
    names = {
        strip_extension(p[len(prefix) :]) for p in selected if p.startswith(prefix)
    }
    if not names:
        return None
    part_targets = {
        strip_extension(p[len(prefix) :]): _literal_targets(snapshot, p)
        for p in part_files(snapshot)
    }
    grew = True
    while grew:
        grew = False
        for name, targets in part_targets.items():
            if name not in names and targets & names:
                names.add(name)
                grew = True
    return frozenset(names)


def includes_any(snapshot: Snapshot, path: str, names: frozenset[str]) -> bool:
    return names is _ALL or bool(_literal_targets(snapshot, path) & names)


def part_files(snapshot: Snapshot) -> list[str]:
    files = getattr(snapshot.parts, "files", None)
    if callable(files):
        return list(files())
    return []
