"""The short ``remote:`` summary of an accepted push: prompts added/changed/removed."""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit

from dakora.registry.core import ZERO_SHA
from dakora.registry.git import as_oid

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

MAX_LINES = 20


@dataclass(frozen=True)
class PromptChange:
    kind: str  # "added" | "changed" | "removed"
    prompt_id: str
    version: str | None
    old_version: str | None = None


def _is_prompt_path(path: str, prompts_dir: str = "prompts") -> bool:
    return path.startswith(prompts_dir + "/") and path.endswith((".yaml", ".yml"))


def _id_version(
    store: BaseObjectStore, sha: bytes, path: str
) -> tuple[str, str | None]:
    """(id, version) through the shared parse cache (the checks parsed it already)."""
    try:
        from dakora.registry.git import blob_identity

        ident = blob_identity(store, sha.decode("ascii"), path)
    except Exception:  # noqa: BLE001 - a summary never fails a push
        ident = None
    if ident is not None:
        return ident[0], ident[1]
    try:
        data = yaml.load(store[as_oid(sha)].as_raw_string(), Loader=_Loader)  # noqa: S506
    except Exception:  # noqa: BLE001
        return path, None
    if not isinstance(data, dict):
        return path, None
    pid, version = data.get("id"), data.get("version")
    return (
        str(pid) if pid is not None else path,
        str(version) if version is not None else None,
    )


def _tree_of(store: BaseObjectStore, sha: str | None) -> bytes | None:
    if not sha or sha == ZERO_SHA:
        return None
    obj = store[as_oid(sha)]
    while not isinstance(obj, Commit):
        target = getattr(obj, "object", None)
        if target is None:
            return None
        obj = store[as_oid(target[1])]
    tree: bytes = obj.tree
    return tree


def prompt_changes(
    store: BaseObjectStore, old: str | None, new: str | None
) -> list[PromptChange]:
    """Prompt files that differ between two commits (by id, with versions)."""
    from dakora.registry.git import diff_trees

    before: dict[str, tuple[str, str | None]] = {}
    after: dict[str, tuple[str, str | None]] = {}
    for path, old_entry, new_entry in diff_trees(
        store, _tree_of(store, old), _tree_of(store, new)
    ):
        if not _is_prompt_path(path):
            continue
        if old_entry is not None:
            pid, ver = _id_version(store, old_entry[1], path)
            before[pid] = (path, ver)
        if new_entry is not None:
            pid, ver = _id_version(store, new_entry[1], path)
            after[pid] = (path, ver)
    out: list[PromptChange] = []
    for pid in sorted(set(before) | set(after)):
        if pid in after and pid not in before:
            out.append(PromptChange("added", pid, after[pid][1]))
        elif pid in before and pid not in after:
            out.append(PromptChange("removed", pid, None, before[pid][1]))
        else:
            out.append(PromptChange("changed", pid, after[pid][1], before[pid][1]))
    return out


def summary_lines(ref: str, changes: list[PromptChange]) -> list[str]:
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    counts = {k: sum(1 for c in changes if c.kind == k) for k in ("added", "changed")}
    counts["removed"] = sum(1 for c in changes if c.kind == "removed")
    lines = [
        f"dakora: {name}: {counts['added']} added, {counts['changed']} changed, "
        f"{counts['removed']} removed"
    ]
    for change in changes[:MAX_LINES]:
        if change.kind == "added":
            lines.append(f"dakora:   + {change.prompt_id} {change.version}")
        elif change.kind == "removed":
            lines.append(f"dakora:   - {change.prompt_id} (was {change.old_version})")
        elif change.old_version == change.version:
            lines.append(f"dakora:   ~ {change.prompt_id} {change.version}")
        else:
            lines.append(
                f"dakora:   ~ {change.prompt_id} {change.old_version} -> "
                f"{change.version}"
            )
    if len(changes) > MAX_LINES:
        lines.append(f"dakora:   ... and {len(changes) - MAX_LINES} more")
    return lines
