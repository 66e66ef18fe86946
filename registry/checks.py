"""The checks: one module used by ``dakora lint``, the receive pipeline and API writes.

Each finding: severity, path, line, message, rule id (see ``RULES``). Two entry points:

- ``check_snapshot(snapshot, parent=…, version_lookup=…, paths=…)``: one commit or
  folder; with ``parent`` also the version rules of DESIGN §5.
- ``check_push(store, old, new, exclude=…, version_lookup=…)``: every new commit of a
  ref update against its first parent, per-file rules on the changed files only.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from dulwich.object_store import BaseObjectStore
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from dakora.registry.errors import DakoraError, RenderError
from dakora.registry.findings import Finding
from dakora.registry.gitrepo import _commit, changed_paths, new_commits
from dakora.registry.loader import LoadedPrompt
from dakora.registry.model import semver_gt
from dakora.registry.renderer import TemplateInfo, analyze_template
from dakora.registry.snapshot import (
    CONFIG_PATH,
    MAX_PROMPT_FILE_BYTES,
    PART_SUFFIXES,
    PROMPT_SUFFIXES,
    GitSnapshot,
    PartsSource,
    Snapshot,
    is_safe_relpath,
    load_with_findings,
    prompt_identity,
)
from dakora.registry.types import ZERO_SHA

# Looks up, across every ref of the project, which blob a (prompt id, version) names;
# None when that version was never used. Lets the version-immutability rule see history
# beyond the parent commit (other branches, tags, the DB index).
VersionLookup = Callable[[str, str], "str | None"]

MAX_FILE_BYTES = MAX_PROMPT_FILE_BYTES  # 256 KiB, any registry file

RULES: dict[str, str] = {
    # reported by the loader (registry/loader.py)
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
    "duplicate-id": "two prompt files share one id",
    "unsafe-path": "a symlink, a '..' component or an absolute path",
    "file-too-large": f"a file is larger than {MAX_FILE_BYTES // 1024} KiB",
    "version-not-bumped": "content changed without a semver-greater version",
    "version-reused": "a version string already names different content",
    "no-history": "a plain folder: version rules need git history (info)",
}

# Names a template may use without declaring them: the sandbox's globals.
_GLOBALS = frozenset({"range", "dict", "namespace"})


def _compile_env() -> SandboxedEnvironment:
    """Parses part files on their own (prompts go through analyze_template)."""
    env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
    for name in ("yaml", "default", "d"):
        env.filters[name] = lambda value, *args, **kwargs: value
    return env


_ENV = _compile_env()
_TEMPLATE_ERROR_PREFIX = re.compile(r"^template (?:syntax )?error at line \d+: ")


def _size(snapshot: Snapshot, path: str) -> int:
    size = getattr(snapshot, "size", None)
    return int(size(path)) if callable(size) else len(snapshot.read(path))


def _content_paths(snapshot: Snapshot) -> list[str]:
    content = getattr(snapshot, "content_paths", None)
    if callable(content):
        return list(content())
    prompts = snapshot.config.prompts_dir
    parts = snapshot.config.parts_dir
    return [
        p
        for p in snapshot.all_paths()
        if p == CONFIG_PATH or p.startswith((prompts + "/", parts + "/"))
    ]


def _is_content(path: str, prompts_dir: str, parts_dir: str) -> bool:
    return path in (CONFIG_PATH, prompts_dir, parts_dir) or path.startswith(
        (prompts_dir + "/", parts_dir + "/")
    )


def _exists(snapshot: Snapshot, path: str) -> bool:
    exists = getattr(snapshot, "exists", None)
    if callable(exists):
        return bool(exists(path))
    return path in set(snapshot.all_paths())


def _dirs(snapshot: Snapshot) -> tuple[str, str]:
    return (
        str(getattr(snapshot, "prompts_dir", snapshot.config.prompts_dir)),
        str(getattr(snapshot, "parts_dir", snapshot.config.parts_dir)),
    )


# ------------------------------------------------------------------------------------
# one file
# ------------------------------------------------------------------------------------


def _path_findings(snapshot: Snapshot, path: str) -> list[Finding]:
    if not is_safe_relpath(path):
        return [
            Finding.error(
                path,
                None,
                "unsafe path: absolute or with a '..' / '.' component",
                "unsafe-path",
            )
        ]
    if snapshot.is_symlink(path):
        return [Finding.error(path, None, "symlinks are not allowed", "unsafe-path")]
    size = _size(snapshot, path)
    if size > MAX_FILE_BYTES:
        return [
            Finding.error(
                path,
                None,
                f"file is {size} bytes; the limit is {MAX_FILE_BYTES} (256 KiB)",
                "file-too-large",
            )
        ]
    return []


def _syntax_line(exc: TemplateSyntaxError, base: int) -> int:
    return base + max(exc.lineno or 1, 1) - 1


_ANALYSIS: OrderedDict[
    tuple[str, str], TemplateInfo | tuple[str, dict[str, object]]
] = OrderedDict()
_ANALYSIS_LOCK = threading.Lock()
_ANALYSIS_MAX = 16_384


def _analyze(source: str, parts: PartsSource) -> TemplateInfo:
    """``analyze_template`` memoised by (source hash, parts key): prompts that share a
    template text (and unchanged prompts across commits) are analysed once."""
    key = (hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest(), parts.key)
    with _ANALYSIS_LOCK:
        hit = _ANALYSIS.get(key)
        if hit is not None:
            _ANALYSIS.move_to_end(key)
    if hit is None:
        try:
            hit = analyze_template(source, parts)
        except DakoraError as exc:
            hit = (exc.message, dict(exc.details))
        with _ANALYSIS_LOCK:
            _ANALYSIS[key] = hit
            while len(_ANALYSIS) > _ANALYSIS_MAX:
                _ANALYSIS.popitem(last=False)
    if isinstance(hit, tuple):
        raise RenderError(hit[0], **hit[1])
    return hit


def _template_findings(loaded: LoadedPrompt, parts: PartsSource) -> list[Finding]:
    """Compile, undeclared / unused inputs and include targets of one prompt."""
    prompt = loaded.prompt
    path = loaded.path
    declared = set(prompt.inputs)
    used_everywhere: set[str] = set()
    out: list[Finding] = []
    analyzed_all = True
    for label, source in prompt.sources():
        base = loaded.source_line(label)
        # analyze_template parses and runs jinja's code generator with the
        # sandbox's filters: syntax errors, unknown filters/tests all land here.
        try:
            info = _analyze(source, parts)
        except DakoraError as exc:
            line = exc.details.get("line")
            detail = _TEMPLATE_ERROR_PREFIX.sub("", exc.message)
            out.append(
                Finding.error(
                    path,
                    base + line - 1 if isinstance(line, int) and line > 0 else base,
                    f"template syntax error in {label}: {detail}",
                    "template-syntax",
                )
            )
            analyzed_all = False
            continue
        for message, line in getattr(info, "errors", ()):
            out.append(
                Finding.error(
                    path,
                    base + max(line, 1) - 1,
                    f"{label}: {message}",
                    "include-error",
                )
            )
        used = set(info.variables) - _GLOBALS
        used_everywhere |= used
        for name in sorted(used - declared):
            line = base + info.variable_lines.get(name, 1) - 1
            out.append(
                Finding.error(
                    path,
                    line,
                    f"unknown input '{name}' used in {label}",
                    "undeclared-variable",
                )
            )
        for name, line in info.missing_includes:
            out.append(
                Finding.error(
                    path,
                    base + max(line, 1) - 1,
                    f"include target '{name}' not found in parts/",
                    "missing-include",
                )
            )
    if analyzed_all:
        for name in sorted(declared - used_everywhere):
            out.append(
                Finding.warning(
                    path,
                    loaded.line_of(f"inputs.{name}"),
                    f"input '{name}' is declared but never used",
                    "unused-input",
                )
            )
    return out


def _part_findings(snapshot: Snapshot, path: str) -> list[Finding]:
    source = snapshot.read(path).decode("utf-8", errors="replace")
    try:
        _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [
            Finding.error(
                path,
                _syntax_line(exc, 1),
                f"template syntax error: {exc.message}",
                "template-syntax",
            )
        ]
    return []


def _version_findings(
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
            if not semver_gt(prompt.version, old[1]):
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


# ------------------------------------------------------------------------------------
# a snapshot
# ------------------------------------------------------------------------------------


def check_snapshot(
    snapshot: Snapshot,
    *,
    parent: Snapshot | None = None,
    version_lookup: VersionLookup | None = None,
    paths: list[str] | None = None,
) -> list[Finding]:
    """Check a snapshot; with ``parent`` also the version rules of DESIGN §5.

    ``paths`` limits per-file checks to changed files (whole-repo rules such as unique
    ids still run). When a part is among them, the template rules run again for
    every prompt that includes it, directly or through other parts (all prompts when
    ``dakora.yaml`` changed). Paths in findings are relative to the prompt root.
    """
    selected = set(paths) if paths is not None else None

    def chosen(path: str) -> bool:
        return selected is None or path in selected

    prompts_dir, parts_dir = _dirs(snapshot)
    out: list[Finding] = []

    if chosen(CONFIG_PATH):
        config_findings = getattr(snapshot, "config_findings", None)
        if callable(config_findings):
            out.extend(config_findings())

    unsafe: set[str] = set()
    if selected is None:
        candidates = _content_paths(snapshot)
    else:
        candidates = [
            p
            for p in sorted(selected)
            if _is_content(p, prompts_dir, parts_dir) and _exists(snapshot, p)
        ]
    for path in candidates:
        found = _path_findings(snapshot, path)
        if found:
            unsafe.add(path)
            out.extend(found)

    affected = _affected_parts(snapshot, selected, parts_dir)
    for path in _part_files(snapshot):
        if chosen(path) and path not in unsafe:
            out.extend(_part_findings(snapshot, path))

    identities = _identities(snapshot, parent)
    by_id: dict[str, list[str]] = {}
    for path, ident in identities.items():
        if ident is not None and path not in unsafe:
            by_id.setdefault(ident[0], []).append(path)
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
                    if ident is not None and _includes_any(snapshot, p, affected)
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
            out.extend(_template_findings(loaded, snapshot.parts))

    for prompt_id, where in sorted(by_id.items()):
        if len(where) < 2:
            continue
        where = sorted(where)
        report = where[1:] if selected is None else [p for p in where if chosen(p)]
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

    if parent is not None or version_lookup is not None:
        parent_path_of = _parent_locator(parent)
        for loaded in checked:
            out.extend(
                _version_findings(
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
    return _dedupe(out)


def _parent_locator(parent: Snapshot | None) -> Callable[[str, str], str | None]:
    """(id, path in the child) → path of that id in the parent. Tries the same path
    first (an edit in place, the common case) and only then indexes the parent."""
    index: dict[str, str] | None = None

    def locate(prompt_id: str, path: str) -> str | None:
        nonlocal index
        if parent is None:
            return None
        exists = getattr(parent, "exists", None)
        if (
            callable(exists)
            and exists(path)
            and not parent.is_symlink(path)
            and (prompt_identity(parent, path) or ("",))[0] == prompt_id
        ):
            return path
        if index is None:
            index = parent_prompt_index(parent)
        return index.get(prompt_id)

    return locate


def _identities(
    snapshot: Snapshot, parent: Snapshot | None
) -> dict[str, tuple[str, str] | None]:
    method = getattr(snapshot, "prompt_identities", None)
    if callable(method):
        return dict(method(parent))
    return {p: prompt_identity(snapshot, p) for p in snapshot.prompt_paths()}


def parent_prompt_index(parent: Snapshot) -> dict[str, str]:
    index = getattr(parent, "prompt_index", None)
    if callable(index):
        return dict(index())
    out: dict[str, str] = {}
    for path in parent.prompt_paths():
        ident = prompt_identity(parent, path)
        if ident is not None:
            out.setdefault(ident[0], path)
    return out


_INCLUDE_RE = re.compile(rb"""(?:include|import|from|extends)\s+(['"])([^'"\n]+)\1""")
_ALL = frozenset({"*"})
_TARGETS: OrderedDict[str, frozenset[str]] = OrderedDict()
_TARGETS_LOCK = threading.Lock()
_TARGETS_MAX = 262_144


def _part_name(name: str) -> str:
    for suffix in PART_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _literal_targets(snapshot: Snapshot, path: str) -> frozenset[str]:
    """Include/import names written as literals in a file (cached by blob sha)."""
    sha = snapshot.blob_sha(path)
    with _TARGETS_LOCK:
        found = _TARGETS.get(sha)
    if found is None:
        data = snapshot.read(path)
        found = frozenset(
            _part_name(m[2].decode("utf-8", "replace"))
            for m in _INCLUDE_RE.finditer(data)
        )
        with _TARGETS_LOCK:
            _TARGETS[sha] = found
            while len(_TARGETS) > _TARGETS_MAX:
                _TARGETS.popitem(last=False)
    return found


def _affected_parts(
    snapshot: Snapshot, selected: set[str] | None, parts_dir: str
) -> frozenset[str] | None:
    """Names of the parts a change touches, directly or through other parts that
    include them; ``_ALL`` when dakora.yaml changed; None when no part changed."""
    if selected is None:
        return None
    if CONFIG_PATH in selected:
        return _ALL
    prefix = parts_dir + "/"
    names = {_part_name(p[len(prefix) :]) for p in selected if p.startswith(prefix)}
    if not names:
        return None
    part_targets = {
        _part_name(p[len(prefix) :]): _literal_targets(snapshot, p)
        for p in _part_files(snapshot)
    }
    grew = True
    while grew:
        grew = False
        for name, targets in part_targets.items():
            if name not in names and targets & names:
                names.add(name)
                grew = True
    return frozenset(names)


def _includes_any(snapshot: Snapshot, path: str, names: frozenset[str]) -> bool:
    return names is _ALL or bool(_literal_targets(snapshot, path) & names)


def _part_files(snapshot: Snapshot) -> list[str]:
    files = getattr(snapshot.parts, "files", None)
    if callable(files):
        return list(files())
    return []


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out: list[Finding] = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


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
    tip = _commit(store, new).id.decode("ascii")
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


__all__ = [
    "MAX_FILE_BYTES",
    "RULES",
    "VersionLookup",
    "check_push",
    "check_snapshot",
]
