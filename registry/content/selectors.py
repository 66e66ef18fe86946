"""Which content a read asks for: a :class:`Selector` (at most one of ref, version,
commit; none = the default branch) and what it resolved to (:class:`Resolved`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dakora.registry.core import BadRequest, CommitSha

SHA_RE = re.compile(r"^[0-9a-f]{4,64}$")


@dataclass(frozen=True)
class Selector:
    """Which content: at most one of ref, version, commit (none = default branch)."""

    ref: str | None = None
    version: str | None = None
    commit: str | None = None

    @classmethod
    def of(
        cls,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> Selector:
        given = [
            n for n, v in (("ref", ref), ("version", version), ("commit", commit)) if v
        ]
        if len(given) > 1:
            raise BadRequest(
                f"give at most one of ref, version, commit (got {', '.join(given)})"
            )
        if commit is not None and commit and not SHA_RE.match(commit.lower()):
            raise BadRequest(f"commit {commit!r} is not a hexadecimal commit sha")
        return cls(ref or None, version or None, commit.lower() if commit else None)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Selector:
        if not query:
            return DEFAULT_SELECTOR
        return cls.of(query.get("ref"), query.get("version"), query.get("commit"))

    @property
    def cache_key(self) -> tuple[str, str]:
        if self.commit:
            return ("commit", self.commit)
        if self.version:
            return ("version", self.version)
        return ("ref", self.ref or "")


DEFAULT_SELECTOR = Selector()


@dataclass(frozen=True)
class Resolved:
    commit: CommitSha
    ref: str | None  # the branch/tag name served, None for commit or version selection
