"""The checks: one module used by ``dakora lint``, the receive pipeline and API writes.

Each finding: severity, path, line, message, rule id (see ``RULES``). Two entry points:

- ``check_snapshot(snapshot, parent=…, version_lookup=…, paths=…)``: one commit or
  folder; with ``parent`` also the version rules of docs/design.md §5.
- ``check_push(store, old, new, exclude=…, version_lookup=…)``: every new commit of a
  ref update against its first parent, per-file rules on the changed files only.
"""

from __future__ import annotations

from dataclasses import replace

from dulwich.object_store import BaseObjectStore

from dakora.registry.checks.files import (
    MAX_FILE_BYTES,
    part_findings,
    path_findings,
    template_findings,
)
from dakora.registry.checks.part_deps import affected_parts, includes_any, part_files
from dakora.registry.checks.versions import (
    parent_locator,
    version_findings,
)
from dakora.registry.core import ZERO_SHA, DakoraError, Finding, dedupe
from dakora.registry.git import (
    CONFIG_PATH,
    PROMPT_SUFFIXES,
    GitSnapshot,
    Snapshot,
    VersionLookup,
    changed_paths,
    is_safe_relpath,
    load_with_findings,
    new_commits,
    prompt_identity,
    read_commit,
)
from dakora.registry.load import LoadedPrompt

RULES: dict[str, str] = {
    # reported by the loader (registry/load/loader.py)
    "yaml-syntax": "the file is not valid YAML",
    "duplicate-key": "a key appears twice in one mapping",
    "empty-file": "the prompt file is empty",
    "not-a-mapping": "the file is not a YAML mapping",
    "unknown-key": "an unknown top-level, input or config key (typo?)",
    "schema": "a field has the wrong type or shape",
    "version-not-string": "version must be a quoted string, not a number",
    "version-not-semver": "version must be a semver string such as 1.2.0",
    "template-xor-messages": "exactly one of template / messages is required",
    "input-type": "an input declares an unknown type",
    "input-name": "an input name is not a valid identifier",
    "default-type": "an input's default does not match its type",
    "enum-type": "an input's enum values do not match its type",
    "required-with-default": "an input is required yet has a default",
    "id-pattern": "the id breaks ^[a-z0-9][a-z0-9._-]{0,127}$",
    "example-inputs": "an example's inputs are not valid for the declared inputs",
    # checks of this module
    "template-syntax": "the template (or a part) does not compile in the sandbox",
    "include-error": "an include could not be resolved (cycle, depth, bad part)",
    "undeclared-variable": "a variable used by the template is not a declared input",
    "unused-input": "a declared input is never used by the template (warning)",
    "missing-include": "an {% include %} target does not exist in parts/",
    "unsafe-template": "attribute or item access to a name starting with '_' "
    "(e.g. __class__): the sandbox would refuse it at render time",
    "duplicate-id": "two prompt files share one id",
    "unsafe-path": "a symlink, a '..' component or an absolute path",
    "file-too-large": f"a file is larger than {MAX_FILE_BYTES // 1024} KiB",
    "version-not-bumped": "content changed without a semver-greater version",
    "version-reused": "a version string already names different content",
    "no-history": "a plain folder: version rules need git history (info)",
    # reported by `dakora lint` itself (cli/local_lint.py)
    "no-prompts": "lint found no prompt file (pass --allow-empty if that is expected)",
}


def _is_content(path: str, prompts_dir: str, parts_dir: str) -> bool:
    return path in (CONFIG_PATH, prompts_dir, parts_dir) or path.startswith(
        (prompts_dir + "/", parts_dir + "/")
    )


# ------------------------------------------------------------------------------------
# one file
# ------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------
# a snapshot
# ------------------------------------------------------------------------------------


def _unsafe_paths(
    snapshot: Snapshot, selected: set[str] | None, out: list[Finding]
) -> set[str]:
    """The content paths (all, or the selected ones) that break a path rule; their
    findings go to ``out``."""
    prompts_dir, parts_dir = snapshot.prompts_dir, snapshot.parts_dir
    if selected is None:
        candidates = snapshot.content_paths()
    else:
        candidates = [
            p
            for p in sorted(selected)
            if _is_content(p, prompts_dir, parts_dir) and snapshot.exists(p)
        ]
    unsafe: set[str] = set()
    for path in candidates:
        found = path_findings(snapshot, path)
        if found:
            unsafe.add(path)
            out.extend(found)
    return unsafe


def _duplicate_id_findings(
    snapshot: Snapshot, by_id: dict[str, list[str]], selected: set[str] | None
) -> list[Finding]:
    """``duplicate-id`` on every path but the first of an id (every selected path
    of it, when only some files are checked)."""
    out: list[Finding] = []
    for prompt_id, where in sorted(by_id.items()):
        if len(where) < 2:
            continue
        report = where[1:] if selected is None else [p for p in where if p in selected]
        for path in report:
            others = ", ".join(p for p in where if p != path)
            loaded, _ = load_with_findings(snapshot, path)
            line = loaded.line_of("id") if loaded is not None else 1
            out.append(
                Finding.error(
                    path,
                    line,
                    f"duplicate id '{prompt_id}': also defined in {others}",
                    "duplicate-id",
                )
            )
    return out


def check_snapshot(
    snapshot: Snapshot,
    *,
    parent: Snapshot | None = None,
    version_lookup: VersionLookup | None = None,
    paths: list[str] | None = None,
) -> list[Finding]:
    """Check a snapshot; with ``parent`` also the version rules of docs/design.md §5.

    ``paths`` limits per-file checks to changed files (whole-repo rules such as unique
    ids still run). When a part is among them, the template rules run again for
    every prompt that includes it, directly or through other parts (all prompts when
    ``dakora.yaml`` changed). Paths in findings are relative to the prompt root.
    """
    selected = set(paths) if paths is not None else None

    def chosen(path: str) -> bool:
        return selected is None or path in selected

    out: list[Finding] = []

    if chosen(CONFIG_PATH):
        out.extend(snapshot.config_findings())

    unsafe = _unsafe_paths(snapshot, selected, out)

    affected = affected_parts(snapshot, selected, snapshot.parts_dir)
    for path in part_files(snapshot):
        if chosen(path) and path not in unsafe:
            out.extend(part_findings(snapshot, path))

    identities = _identities(snapshot, parent)
    by_id = _paths_by_id(snapshot, parent, identities, selected, unsafe)
    checked: list[LoadedPrompt] = []
    if selected is None:
        to_check = list(identities)
    else:
        to_check = sorted(p for p in selected if p in identities)
        if affected is not None:
            to_check = sorted(
                set(to_check)
                | {
                    p
                    for p, ident in identities.items()
                    if ident is not None and includes_any(snapshot, p, affected)
                }
            )
    for path in to_check:
        if path in unsafe or not is_safe_relpath(path):
            continue
        loaded, found = load_with_findings(snapshot, path)
        if chosen(path):
            out.extend(found)
            if loaded is not None:
                checked.append(loaded)
        if loaded is not None:
            out.extend(template_findings(loaded, snapshot.parts))

    out.extend(_duplicate_id_findings(snapshot, by_id, selected))

    if parent is not None or version_lookup is not None:
        parent_path_of = parent_locator(parent)
        for loaded in checked:
            out.extend(
                version_findings(
                    snapshot, loaded, parent, parent_path_of, version_lookup
                )
            )
    if parent is None and snapshot.commit is None:
        out.append(
            Finding(
                path=".",
                line=None,
                severity="info",
                message="no git history: version rules skipped",
                rule="no-history",
            )
        )
    return dedupe(out)


def _paths_by_id(
    snapshot: Snapshot,
    parent: Snapshot | None,
    identities: dict[str, tuple[str, str] | None],
    selected: set[str] | None,
    unsafe: set[str],
) -> dict[str, list[str]]:
    """prompt id → sorted safe paths with that id: of every id for a whole check,
    of the ids of the selected files only otherwise (from the snapshot's cached
    id → paths map when it has one: O(changed files), not O(prompts))."""
    if selected is not None and isinstance(snapshot, GitSnapshot):
        wanted = {
            ident[0]
            for path in selected
            if (ident := identities.get(path)) is not None and path not in unsafe
        }
        if not wanted:
            return {}
        table = snapshot.id_paths(parent)
        return {
            pid: [p for p in table.get(pid, ()) if p not in unsafe] for pid in wanted
        }
    by_id: dict[str, list[str]] = {}
    for path, ident in identities.items():
        if ident is not None and path not in unsafe:
            by_id.setdefault(ident[0], []).append(path)
    return {pid: sorted(paths) for pid, paths in by_id.items()}


def _identities(
    snapshot: Snapshot, parent: Snapshot | None
) -> dict[str, tuple[str, str] | None]:
    return dict(snapshot.prompt_identities(parent))


# ------------------------------------------------------------------------------------
# a push
# ------------------------------------------------------------------------------------


def check_push(
    store: BaseObjectStore,
    old: str | None,
    new: str,
    *,
    exclude: list[str],
    version_lookup: VersionLookup | None = None,
    subdir: str = "",
) -> list[Finding]:
    """Check every commit a ref update brings (reachable from ``new``, not from
    ``old`` nor any sha in ``exclude`` — pass every ref tip the repo already has).

    Each commit is checked against its first parent, per-file rules on its changed
    files only. A finding whose file is unchanged up to the tip is reported as is;
    one that only exists in an intermediate commit gets ``(commit abc1234)`` appended.
    Versions introduced earlier in the same push count for ``version-reused``.
    A deletion (``new`` zero) has nothing to check here.
    """
    if not new or new == ZERO_SHA:
        return []
    skip = [*exclude, *([old] if old and old != ZERO_SHA else [])]
    commits = new_commits(store, new, skip)
    if not commits:
        return []
    tip = read_commit(store, new).id.decode("ascii")
    tip_snap = GitSnapshot(store, tip, subdir)
    pushed: dict[tuple[str, str], str] = {}

    def lookup(prompt_id: str, version: str) -> str | None:
        if (prompt_id, version) in pushed:
            return pushed[(prompt_id, version)]
        return version_lookup(prompt_id, version) if version_lookup else None

    first_seen: dict[Finding, str] = {}
    in_tip: set[Finding] = set()
    for sha in commits:
        snap = GitSnapshot(store, sha, subdir)
        parents = snap.commit_object.parents
        parent = GitSnapshot(store, parents[0].decode(), subdir) if parents else None
        changed = sorted(
            {p for pair in changed_paths(store, sha, subdir=subdir) for p in pair if p}
        )
        for finding in check_snapshot(
            snap, parent=parent, version_lookup=lookup, paths=changed
        ):
            first_seen.setdefault(finding, sha)
            if sha == tip or _same_file(snap, tip_snap, finding.path):
                in_tip.add(finding)
        prompts_dir = snap.prompts_dir
        for path in changed:
            if (
                path.startswith(prompts_dir + "/")
                and path.endswith(PROMPT_SUFFIXES)
                and snap.exists(path)
                and not snap.is_symlink(path)
            ):
                ident = prompt_identity(snap, path)
                if ident is not None:
                    pushed.setdefault(ident, snap.blob_sha(path))
    out: list[Finding] = []
    for finding, sha in first_seen.items():
        if finding in in_tip:
            out.append(finding)
        else:
            out.append(
                replace(finding, message=f"{finding.message} (commit {sha[:7]})")
            )
    return out


def _same_file(snap: GitSnapshot, tip: GitSnapshot, path: str) -> bool:
    try:
        return (
            snap.exists(path)
            and tip.exists(path)
            and snap.blob_sha(path) == tip.blob_sha(path)
        )
    except DakoraError:
        return False
