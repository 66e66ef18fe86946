"""Every object a push brings is checked the way ``git fsck`` checks objects.

Runs on the pushed objects only (the quarantine's own packs and loose objects), before
the prompt checks and before anything is accepted; each problem becomes one
``remote:`` line naming the object (and, for a tree entry, the path) and the problem,
with git's own fsck message id in brackets so it can be looked up.

What is refused:

- **sizes** (read from the object headers, nothing is inflated to learn them): any
  object over ``max_object_bytes``, whatever points at it (a blob behind an annotated
  tag obeys the same limit as a file of a commit);
- **trees** (parsed from the raw bytes: dulwich collapses duplicate names into one
  entry, so its parsed ``Tree`` cannot show them): malformed entries, duplicate names,
  entries out of git's order, zero-padded or unknown modes, gitlinks (submodules have
  no place in a prompt registry), empty names, ``.``, ``..``, names holding ``/`` or
  ``\\``, ``.git`` in any case and its HFS+ (ignorable code points) and NTFS
  (``git~1``, trailing dots and spaces, ``:stream``) spellings, symlinks named like
  ``.gitmodules``/``.gitattributes``/``.gitignore``/``.mailmap``, names that are not
  UTF-8, the null object id, and entries naming an object that does not exist (or,
  for pushed objects, one of the wrong type);
- **commits**: headers out of order or missing (``tree``, ``parent``…, ``author``,
  ``committer``), object ids that are not 40 lowercase hex digits, idents that are not
  ``Name <email> <seconds> <+hhmm>`` (zero-padded or overflowing dates included), a
  NUL byte anywhere (header or message), a missing header terminator, a tree or
  parent that does not exist;
- **tags**: ``object``/``type``/``tag``/``tagger`` headers malformed or out of order, a
  tag name that is not a valid ref name, a NUL byte, a target that does not exist or
  is not of the type the tag states, and a target that is a blob or a tree (a tag must
  point at a commit, or at another tag).
"""

from __future__ import annotations

from collections.abc import Collection

from dulwich.object_store import BaseObjectStore
from dulwich.objects import sha_to_hex
from dulwich.refs import check_ref_format
from dulwich.repo import Repo

from dakora.hooks.already_stored import not_stored
from dakora.hooks.object_rules import (
    HEX_ID,
    ObjectProblem,
    check_tree_entries,
    ident_problem,
    parse_tree_raw,
    plain_tree,
    show_name,
    split_headers,
)
from dakora.hooks.pack_guard import (
    ObjectLimits,
    PackFormatError,
    PackTooLarge,
    object_limits,
)
from dakora.hooks.pushed_objects import StoredObject, pushed_objects
from dakora.hooks.quarantine import Quarantine
from dakora.hooks.trusted_trees import (
    TrustedTrees,
    remember_entries,
    trusted_parents,
)
from dakora.registry.checks import PushLimits
from dakora.registry.core import Finding
from dakora.registry.git import as_oid, as_raw_oid, as_ref

RULE = "object-check"
MAX_FINDINGS = 50

# -- the checker -----------------------------------------------------------------------


class ObjectChecker:
    """Checks the objects of one push (see the module docstring)."""

    def __init__(
        self,
        store: BaseObjectStore,
        objects: list[StoredObject],
        limits: ObjectLimits | None = None,
        raws: dict[bytes, bytes] | None = None,
        trusted: Collection[bytes] = (),
    ) -> None:
        self.store = store  # the pushed objects *and* the repository's
        # commits (hex) whose every object the repository holds: its ref tips
        # (``trusted_trees``)
        self.trusted = frozenset(trusted)
        self._trees: TrustedTrees | None = None
        self._raw_commits: dict[bytes, bytes] = {}
        self._parsed: dict[bytes, list[tuple[bytes, bytes, bytes]]] = {}
        self._raws = raws or {}  # bytes of pushed objects, when already read
        self.limits = limits or ObjectLimits()
        self.objects = objects
        self.kinds = {o.sha: o.kind for o in objects}
        # tree or blob id -> where a pushed commit has it
        self.paths: dict[bytes, str] = {}
        self.findings: list[Finding] = []

    def run(self) -> list[Finding]:
        raws: dict[bytes, bytes] = {}
        cap = self.limits.max_object_bytes
        oversized = [o for o in self.objects if o.size > cap]
        for obj in self.objects:
            if obj.size <= cap and obj.kind in ("commit", "tag", "tree"):
                known = self._raws.get(obj.sha)
                raws[obj.sha] = (
                    known
                    if known is not None
                    else self.store.get_raw(as_oid(obj.sha))[1]
                )
        self._raw_commits = {
            o.sha: raws[o.sha]
            for o in self.objects
            if o.kind == "commit" and o.sha in raws
        }
        self._name_trees(raws)
        for obj in oversized:
            path = self.paths.get(obj.sha)
            if obj.kind == "blob" and path is not None:
                self.findings.append(
                    Finding.error(
                        path,
                        None,
                        f"file is {obj.size} bytes (limit {cap})",
                        "limit-file-size",
                    )
                )
            else:
                self._add(
                    obj, f"is {obj.size} bytes (limit {cap})", "limit-object-size"
                )
        for obj in self.objects:
            if obj.sha not in raws:
                continue
            if obj.kind == "commit":
                self._guard(obj, lambda o=obj: self._commit(o, raws[o.sha]))
            elif obj.kind == "tree":
                self._guard(obj, lambda o=obj: self._tree(o, raws[o.sha]))
            elif obj.kind == "tag":
                self._guard(obj, lambda o=obj: self._tag(o, raws[o.sha]))
        return self.findings[:MAX_FINDINGS]

    # -- reporting -----------------------------------------------------------------

    def _label(self, obj: StoredObject) -> str:
        return f"{obj.kind} {obj.sha.decode('ascii')}"

    def _add(
        self, obj: StoredObject, problem: str, fsck_id: str, path: str | None = None
    ) -> None:
        where = path or self.paths.get(obj.sha) or self._label(obj)
        if path or obj.sha in self.paths:
            message = f"{self._label(obj)}: {problem} [{fsck_id}]"
        else:
            message = f"{problem} [{fsck_id}]"
        self.findings.append(Finding.error(where, None, message, RULE))

    def _guard(self, obj: StoredObject, check: object) -> None:
        try:
            check()  # type: ignore[operator]
        except ObjectProblem as problem:
            self._add(obj, problem.message, problem.fsck_id, problem.path)

    # -- references --------------------------------------------------------------------

    def _exists(self, hexsha: bytes, kind: str, what: str) -> None:
        pushed = self.kinds.get(hexsha)
        if pushed is not None:
            if pushed != kind:
                raise ObjectProblem(
                    f"{what} {hexsha.decode()} is a {pushed}, not a {kind}", "badType"
                )
            return
        if as_oid(hexsha) not in self.store:
            raise ObjectProblem(
                f"{what} {hexsha.decode()} does not exist", "missingObject"
            )

    # -- trees -------------------------------------------------------------------------

    def _name_trees(self, raws: dict[bytes, bytes]) -> None:
        """Where each pushed tree sits in a pushed commit (for the messages)."""
        pushed = {bytes.fromhex(sha.decode("ascii")) for sha in self.kinds}
        queue: list[tuple[bytes, str]] = []
        for obj in self.objects:
            if obj.kind != "commit" or obj.sha not in raws:
                continue
            first = raws[obj.sha].split(b"\n", 1)[0]
            if first.startswith(b"tree ") and HEX_ID.match(first[5:]):
                queue.append((first[5:], ""))
        while queue:
            sha, path = queue.pop()
            if sha in self.paths or self.kinds.get(sha) != "tree" or sha not in raws:
                continue
            self.paths[sha] = path or "/"
            try:
                entries = self._parse(sha, raws[sha])
            except ObjectProblem:
                continue
            for mode_text, name, raw_sha in entries:
                if raw_sha not in pushed:
                    continue  # only pushed objects are named
                child = sha_to_hex(as_raw_oid(raw_sha))
                if mode_text in (b"40000", b"040000"):
                    queue.append((child, path + show_name(name) + "/"))
                elif self.kinds.get(child) == "blob":
                    self.paths.setdefault(child, path + show_name(name))

    def _parse(self, sha: bytes, raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
        """``parse_tree_raw``, once per tree of the push."""
        entries = self._parsed.get(sha)
        if entries is None:
            entries = self._parsed[sha] = parse_tree_raw(raw)
        return entries

    def _tree(self, obj: StoredObject, raw: bytes) -> None:
        entries = self._parse(obj.sha, raw)
        if plain_tree(entries) and self._entries_exist(obj, entries):
            return  # nothing to report; otherwise the entries say what is wrong
        where = self.paths.get(obj.sha)
        base = "" if where in (None, "/") else where
        check_tree_entries(entries, base, where is not None, self._exists)

    def _entries_exist(
        self, obj: StoredObject, entries: list[tuple[bytes, bytes, bytes]]
    ) -> bool:
        """True when every entry names an object of its kind (``_exists``); entries
        the tree at the same path of a trusted commit has too are known to."""
        todo: Collection[tuple[bytes, bytes, bytes]] = entries
        if self._trees is None:
            commits = [r for o in self.objects if (r := self._raw_commits.get(o.sha))]
            bases = trusted_parents(commits, self.trusted) if self.trusted else []
            self._trees = TrustedTrees(self.store, bases)
        known = self._trees.entries_at(self.paths.get(obj.sha))
        mine = frozenset(entries)
        remember_entries(obj.sha, mine)  # the next push's reference, likely
        if known:
            todo = mine.difference(known)
        for mode_text, _name, raw_sha in todo:
            hexsha = sha_to_hex(as_raw_oid(raw_sha))
            kind = "tree" if mode_text == b"40000" else "blob"
            try:
                self._exists(hexsha, kind, "entry")
            except ObjectProblem:
                return False
        return True

    # -- commits -------------------------------------------------------------------------

    def _commit(self, obj: StoredObject, raw: bytes) -> None:
        headers = split_headers(raw, "commit")
        keys = [k for k, _ in headers]
        if not keys or keys[0] != b"tree":
            raise ObjectProblem(
                "the commit does not start with a tree header", "missingTree"
            )
        tree = headers[0][1]
        if not HEX_ID.match(tree):
            raise ObjectProblem(f"bad tree id {tree[:50]!r}", "badTreeSha1")
        i = 1
        while i < len(headers) and headers[i][0] == b"parent":
            parent = headers[i][1]
            if not HEX_ID.match(parent):
                raise ObjectProblem(f"bad parent id {parent[:50]!r}", "badParentSha1")
            self._exists(parent, "commit", "parent")
            i += 1
        for field in (b"author", b"committer"):
            if i >= len(headers) or headers[i][0] != field:
                raise ObjectProblem(
                    f"the {field.decode()} header is missing or out of order",
                    f"missing{field.decode().capitalize()}",
                )
            problem = ident_problem(headers[i][1], f"the {field.decode()}")
            if problem is not None:
                raise ObjectProblem(*problem)
            i += 1
        for key, _ in headers[i:]:
            if key in (b"tree", b"parent", b"author", b"committer"):
                raise ObjectProblem(
                    f"a second or misplaced {key.decode()} header", "badCommit"
                )
        self._exists(tree, "tree", "tree")

    # -- tags ----------------------------------------------------------------------------

    def _tag(self, obj: StoredObject, raw: bytes) -> None:
        headers = split_headers(raw, "tag")
        expected = (b"object", b"type", b"tag")
        for i, field in enumerate(expected):
            if i >= len(headers) or headers[i][0] != field:
                raise ObjectProblem(
                    f"the {field.decode()} header is missing or out of order",
                    f"missing{field.decode().capitalize()}",
                )
        target, kind, name = (headers[i][1] for i in range(3))
        if not HEX_ID.match(target):
            raise ObjectProblem(f"bad object id {target[:50]!r}", "badObjectSha1")
        if kind not in (b"commit", b"tag", b"tree", b"blob"):
            raise ObjectProblem(f"bad type {kind[:20]!r}", "badType")
        if not check_ref_format(as_ref(b"refs/tags/" + name)):
            raise ObjectProblem(
                f"the tag name {show_name(name)!r} is not a valid ref name",
                "badTagName",
            )
        if len(headers) > 3 and headers[3][0] == b"tagger":
            problem = ident_problem(headers[3][1], "the tagger")
            if problem is not None:
                raise ObjectProblem(*problem)
        if kind in (b"blob", b"tree"):
            raise ObjectProblem(
                f"the tag points at a {kind.decode()}; a tag must point at a commit",
                "tagTarget",
            )
        self._exists(target, kind.decode(), "the tagged object")
        if self.kinds.get(target) is None:
            try:
                actual = self.store[as_oid(target)].type_name.decode()
            except KeyError:
                actual = kind.decode()
            if actual != kind.decode():
                raise ObjectProblem(
                    f"the tag says {kind.decode()} but {target.decode()} is a {actual}",
                    "badType",
                )


def check_pushed_objects(
    objects_dir: str,
    store: BaseObjectStore,
    limits: ObjectLimits | None = None,
    *,
    scan: bool = False,
    existing: BaseObjectStore | None = None,
    trusted: Collection[bytes] = (),
) -> list[Finding]:
    """Findings for every object stored in ``objects_dir`` (a quarantine), read
    through ``store`` (which sees the repository too). ``scan``: also run the
    header scan over its packs (what git stored itself). ``existing``: the
    repository's own store — objects it already holds (the bases dulwich appends to
    complete a thin pack) were accepted before and are not checked again.
    ``trusted``: commits whose every object the store holds (``ObjectChecker``)."""
    try:
        objects = list(pushed_objects(objects_dir, scan=scan, limits=limits))
        if existing is not None:
            objects = not_stored(existing, objects)
    except PackTooLarge as exc:
        return [Finding.error("(push)", None, exc.message, "limit-object-size")]
    except (PackFormatError, OSError, ValueError, IndexError) as exc:
        return [
            Finding.error("(push)", None, f"the pushed pack is malformed: {exc}", RULE)
        ]
    return ObjectChecker(store, objects, limits, trusted=trusted).run()


def quarantine_findings(
    quarantine: Quarantine | None,
    store: BaseObjectStore,
    repo: Repo,
    limits: PushLimits,
) -> list[Finding]:
    """The receive pipeline's first check: the quarantine's own objects (none when
    the push only deletes), read through ``store``; ``repo``'s objects are skipped."""
    if quarantine is None:
        return []
    tips = {sha for name, sha in repo.get_refs().items() if name != b"HEAD"}
    return check_pushed_objects(
        quarantine.path,
        store,
        object_limits(limits),
        existing=repo.object_store,
        trusted=tips,
    )
