"""What the index is derived from: a repository opened from whatever the caller has,
its indexed refs (branches and tags, peeled to commits), and the prompt versions and
heads that commits introduce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.object_store import BaseObjectStore
from dulwich.repo import Repo

from dakora.registry.core import ZERO_SHA, StorageError
from dakora.registry.git import PromptHead, PromptRepository, VersionInfo, peel

INDEXED_PREFIXES = ("refs/heads/", "refs/tags/")


RepoLike = PromptRepository | Repo | BaseObjectStore | str | Path


class OpenedRepo:
    """A store from whatever the caller has; closes what it opened itself."""

    def __init__(self, repo: RepoLike) -> None:
        self._owned: Repo | None = None
        if isinstance(repo, PromptRepository):
            self.store: BaseObjectStore = repo.store
            self.repo: Repo | None = repo.repo
        elif isinstance(repo, Repo):
            self.store, self.repo = repo.object_store, repo
        elif isinstance(repo, BaseObjectStore):
            self.store, self.repo = repo, None
        else:
            try:
                self._owned = Repo(str(repo))
            except (NotGitRepository, OSError) as exc:
                raise StorageError(f"cannot open the repository {repo}: {exc}") from exc
            self.store, self.repo = self._owned.object_store, self._owned

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> OpenedRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def peel_to_commit(store: BaseObjectStore, sha: str) -> str | None:
    """The commit a ref points to (through annotated tags), or None (tree/blob tag);
    ``StorageError`` when an object is missing."""
    try:
        return peel(store, sha)
    except KeyError as exc:
        raise StorageError(f"object {sha} is missing from the repository") from exc


def repository_refs(repo: Repo) -> dict[str, str]:
    """Indexed refs of a repository: full name → peeled commit sha."""
    out: dict[str, str] = {}
    for name, sha in repo.refs.as_dict().items():
        text = name.decode("utf-8", errors="replace")
        if not text.startswith(INDEXED_PREFIXES):
            continue
        commit = peel_to_commit(repo.object_store, sha.decode("ascii"))
        if commit is not None:
            out[text] = commit
    return out


def ordered_refs(refs_: Mapping[str, str], default_branch: str | None) -> list[str]:
    """Default branch first, then branches, then tags: versions are attributed to the
    first ref (in this order) that reaches them."""
    default = f"refs/heads/{default_branch}" if default_branch else None

    def key(name: str) -> tuple[int, str]:
        if name == default:
            return (0, name)
        return (1 if name.startswith("refs/heads/") else 2, name)

    return sorted(refs_, key=key)


# -- computing ------------------------------------------------------------------------


def prompt_description(store: BaseObjectStore, blob_sha: str, path: str) -> str | None:
    from dakora.registry.git import load_blob_with_findings

    loaded, _ = load_blob_with_findings(store, blob_sha, path)
    return loaded.prompt.description if loaded is not None else None


def compute_versions(
    store: BaseObjectStore, new_commits: Sequence[str], exclude: Sequence[str]
) -> list[VersionInfo]:
    """Versions introduced by commits reachable from ``new_commits`` but not from
    ``exclude`` (commits already indexed). Each (prompt id, version) once, the first
    occurrence (parents first) winning."""
    from dakora.registry.git import versions_in_range

    done: list[str] = [s for s in exclude if s and s != ZERO_SHA]
    seen: set[tuple[str, str]] = set()
    out: list[VersionInfo] = []
    for sha in new_commits:
        if sha in done:
            continue
        for info in versions_in_range(store, sha, list(done)):
            key = (info.prompt_id, info.version)
            if key not in seen:
                seen.add(key)
                out.append(info)
        done.append(sha)
    return out


def compute_heads(store: BaseObjectStore, commit: str) -> dict[str, PromptHead]:
    from dakora.registry.git import heads_at

    return heads_at(store, commit)
