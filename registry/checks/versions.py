"""The version rules of docs/design.md §5 (``version-not-bumped``, ``version-reused``):
changed content needs a semver-greater version than on the parent commit, and a
version string never names two contents (across refs, via a ``VersionLookup``)."""

from __future__ import annotations

from collections.abc import Callable

from dakora.registry.core import Finding, semver_gt
from dakora.registry.git import Snapshot, VersionLookup, prompt_identity
from dakora.registry.load import LoadedPrompt


def version_step_valid(old: str, new: str, *, changed: bool) -> bool:
    """The version rule of docs/design.md §5, the one the push checks and the review
    both apply: a changed prompt needs a version semver-greater than before."""
    return not changed or semver_gt(new, old)


def version_findings(
    snapshot: Snapshot,
    loaded: LoadedPrompt,
    parent: Snapshot | None,
    parent_path_of: Callable[[str, str], str | None],
    version_lookup: VersionLookup | None,
) -> list[Finding]:
    prompt = loaded.prompt
    blob = snapshot.blob_sha(loaded.path)
    line = loaded.line_of("version")
    out: list[Finding] = []
    same_version_as_parent = False
    old_path = parent_path_of(prompt.id, loaded.path)
    if parent is not None and old_path is not None:
        old_blob = parent.blob_sha(old_path)
        if old_blob == blob:
            return []  # unchanged (maybe moved): nothing new to check
        old = prompt_identity(parent, old_path)
        if old is not None:
            if old[1] == prompt.version:
                same_version_as_parent = True
            if not version_step_valid(old[1], prompt.version, changed=True):
                out.append(
                    Finding.error(
                        loaded.path,
                        line,
                        f"'{prompt.id}' changed but its version {prompt.version} is "
                        f"not greater than {old[1]} on the parent commit",
                        "version-not-bumped",
                    )
                )
    if version_lookup is not None and not same_version_as_parent:
        known = version_lookup(prompt.id, prompt.version)
        if known is not None and known != blob:
            out.append(
                Finding.error(
                    loaded.path,
                    line,
                    f"version {prompt.version} of '{prompt.id}' already names "
                    f"different content (blob {known[:7]}); bump the version",
                    "version-reused",
                )
            )
    return out


def parent_locator(parent: Snapshot | None) -> Callable[[str, str], str | None]:
    """(id, path in the child) → path of that id in the parent. Tries the same path
    first (an edit in place, the common case) and only then indexes the parent."""
    index: dict[str, str] | None = None

    def locate(prompt_id: str, path: str) -> str | None:
        nonlocal index
        if parent is None:
            return None
        if (
            parent.exists(path)
            and not parent.is_symlink(path)
            and (prompt_identity(parent, path) or ("",))[0] == prompt_id
        ):
            return path
        if index is None:
            index = parent_prompt_index(parent)
        return index.get(prompt_id)

    return locate


def parent_prompt_index(parent: Snapshot) -> dict[str, str]:
    return parent.prompt_index()
