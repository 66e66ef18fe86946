"""Mutation testing of the safety-critical modules (``make mutation``; docs/mutation.md).

For every module listed in ``tests/mutation/modules.toml`` this runs a cosmic-ray
session (one worker, ``nice -n 19``) against that module's fast test selection, then
prints ``module  killed/total  kill%`` per module and the surviving mutants (their
diffs), and exits non-zero when a module kills fewer than ``--min`` percent (90).

The mutants are never written into the working tree: the tracked and untracked
(not ignored) files are copied to ``.mutation/tree`` and the tests there import
``dakora.*`` from that copy (``PYTHONPATH`` names a tree of symlinks with the import
names, like ``make typecheck``'s), so the checkout stays clean and usable during a run.

    python tests/mutation/run.py                 # every module
    python tests/mutation/run.py inputs layout   # some of them
    python tests/mutation/run.py --report        # the last results, without running
    python tests/mutation/run.py --survivors inputs  # its survivors, after new tests
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".mutation"
CONFIG = Path(__file__).with_name("modules.toml")
BIN = Path(sys.executable).parent
# the import package -> its folder (pyproject.toml [tool.setuptools.package-dir])
PACKAGE_DIRS = {
    "registry": "registry",
    "hooks": "hooks",
    "api": "api",
    "cli": "cli",
    "client": "client",
    "migrations": "alembic",
}


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    tests: tuple[str, ...]
    timeout: float
    functions: tuple[str, ...] = ()  # only these (``name`` or ``Class.name``); () = all


def load_modules() -> list[Module]:
    data = tomllib.loads(CONFIG.read_text())
    default_timeout = float(data.get("timeout", 120))
    return [
        Module(
            name=name,
            path=entry["path"],
            tests=tuple(entry["tests"]),
            timeout=float(entry.get("timeout", default_timeout)),
            functions=tuple(entry.get("functions", ())),
        )
        for name, entry in data["modules"].items()
    ]


def tree_of(module: Module) -> Path:
    return WORK / module.name / "tree"


def packages_of(module: Module) -> Path:
    return WORK / module.name / "packages"


def copy_tree(module: Module) -> None:
    """The checkout's files (tracked + untracked, not ignored) into the module's
    ``.mutation/<name>/tree``, the ``dakora`` import names as symlinks into it, and
    ``.venv`` linked (tests run ``.venv/bin/dakora``, which then imports the copy
    through ``PYTHONPATH``). One copy per module: a run never changes another's."""
    tree, packages = tree_of(module), packages_of(module)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    if tree.exists():
        shutil.rmtree(tree)
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted but still tracked
        dest = tree / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest, follow_symlinks=False)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    if packages.exists():
        shutil.rmtree(packages)
    (packages / "dakora").mkdir(parents=True)
    for name, folder in PACKAGE_DIRS.items():
        (packages / "dakora" / name).symlink_to(tree / folder)


def environment(module: Module) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(packages_of(module))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # the fast tests need none of the heavy entry-point plugins (schemathesis,
    # playwright, anyio): pytest starts in a third of the time
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def session_paths(module: Module) -> tuple[Path, Path]:
    return WORK / f"{module.name}.toml", WORK / f"{module.name}.sqlite"


def write_config(module: Module) -> Path:
    config, _ = session_paths(module)
    python = ROOT / ".venv" / "bin" / "python"
    command = (
        f"{python} -m pytest -q -x -p no:cacheprovider -p timeout "
        f"--timeout {int(module.timeout)} " + shlex.join(module.tests)
    )
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module.path}"\n'
        f"timeout = {module.timeout * 2}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n'
        "\n[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    return config


def cosmic_ray(module: Module, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["nice", "-n", "19", str(BIN / "cosmic-ray"), *args],
        cwd=tree_of(module),
        env=environment(module),
        check=False,
    )


def forget_survivors(module: Module, session: Path) -> int:
    """Drop the results of the surviving mutants (not those in annotations or outside
    the selected functions), so ``exec`` runs them again."""
    import sqlite3

    why = classify(module, (tree_of(module) / module.path).read_text())
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT r.job_id, s.start_pos_row, s.start_pos_col FROM work_results r "
            "JOIN mutation_specs s ON s.job_id = r.job_id "
            "WHERE r.test_outcome = 'SURVIVED'"
        ).fetchall()
        again = [job for job, row, col in rows if why((row, col)) is None]
        db.executemany(
            "DELETE FROM work_results WHERE job_id = ?", [(job,) for job in again]
        )
    return len(again)


ANNOTATION = (
    "an annotation never evaluated: a function's (from __future__ import "
    "annotations) or a local variable's"
)


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of every function argument and return annotation.

    Under ``from __future__ import annotations`` they are strings nobody evaluates in
    these modules (no pydantic, typer or FastAPI signature reads them), so a mutant
    there (``int | None`` -> ``int + None``) is equivalent by construction. Class-level
    annotations (pydantic models, dataclasses) are evaluated and stay mutated.

    A local variable's annotation (``where: tuple[str | None, int] = …`` in a
    function body) is never evaluated at all, with or without that import (PEP 526):
    skipped too."""
    tree = ast.parse(source)
    future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        found: list[ast.expr | None] = []
        if future and not isinstance(node, ast.Lambda):
            found.append(node.returns)
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if future and arg is not None:
                found.append(arg.annotation)
        if not isinstance(node, ast.Lambda):
            found += [local.annotation for local in _local_annotations(node.body)]
        for ann in found:
            if ann is not None and ann.end_lineno is not None:
                spans.append(
                    (
                        (ann.lineno, ann.col_offset),
                        (ann.end_lineno, ann.end_col_offset or 0),
                    )
                )
    return spans


def _local_annotations(body: list[ast.stmt]) -> list[ast.AnnAssign]:
    """The annotated assignments of a function body (not those of a class defined in
    it, which are evaluated; nested functions are walked on their own)."""
    found: list[ast.AnnAssign] = []
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.AnnAssign):
            found.append(node)
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


OUTSIDE = "outside the module's selected functions (modules.toml functions)"


def function_lines(source: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The (first, last) lines of the named functions/classes (``f``, ``C``, ``C.m``)."""
    wanted = set(names)
    found: dict[str, tuple[int, int]] = {}
    tree = ast.parse(source)
    defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    for node in tree.body:
        if not isinstance(node, defs):
            continue
        inner = node.body if isinstance(node, ast.ClassDef) else []
        for qual, item in [(node.name, node)] + [
            (f"{node.name}.{sub.name}", sub) for sub in inner if isinstance(sub, defs)
        ]:
            if qual in wanted:
                first = min([item.lineno] + [d.lineno for d in item.decorator_list])
                found[qual] = (first, item.end_lineno or item.lineno)
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"modules.toml: no {', '.join(sorted(missing))} in the module")
    return list(found.values())


def classify(module: Module, source: str) -> Callable[[tuple[int, int]], str | None]:
    """Why a mutant at ``pos`` is not run (``ANNOTATION``, ``OUTSIDE``), or None."""
    spans = annotation_spans(source)
    lines = function_lines(source, module.functions) if module.functions else None

    def why(pos: tuple[int, int]) -> str | None:
        if lines is not None and not any(a <= pos[0] <= b for a, b in lines):
            return OUTSIDE
        if any(start <= pos < end for start, end in spans):
            return ANNOTATION
        return None

    return why


def skip_unselected(module: Module, session: Path) -> dict[str, int]:
    """Record the mutants in function annotations (``ANNOTATION``) and outside the
    selected functions (``OUTSIDE``) as skipped."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    why = classify(module, (tree_of(module) / module.path).read_text())
    counts = {ANNOTATION: 0, OUTSIDE: 0}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            reason = why(item.mutations[0].start_pos)
            if reason is not None:
                db.set_result(
                    item.job_id,
                    WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason),
                )
                counts[reason] += 1
    return counts


def run_module(module: Module, survivors_only: bool = False) -> bool:
    config, session = session_paths(module)
    write_config(module)
    if survivors_only:
        if not session.exists():
            print(f"{module.name}: no session to retest", file=sys.stderr)
            return False
        count = forget_survivors(module, session)
        print(f"== {module.name}: {count} surviving mutant(s) again")
        return cosmic_ray(module, "exec", str(config), str(session)).returncode == 0
    if session.exists():
        session.unlink()
    print(f"== {module.name}: {module.path} against {' '.join(module.tests)}")
    if cosmic_ray(module, "baseline", str(config)).returncode != 0:
        print(f"{module.name}: the tests fail on the unmutated code", file=sys.stderr)
        return False
    if cosmic_ray(module, "init", str(config), str(session)).returncode != 0:
        return False
    counts = skip_unselected(module, session)
    print(
        f"{module.name}: {counts[ANNOTATION]} mutant(s) in annotations, "
        f"{counts[OUTSIDE]} outside the selected functions: skipped"
    )
    return cosmic_ray(module, "exec", str(config), str(session)).returncode == 0


@dataclass
class Result:
    module: Module
    killed: int
    total: int
    pending: int
    skipped: int
    outside: int
    survivors: list[str]

    @property
    def rate(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0


def read_result(module: Module) -> Result | None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    _, session = session_paths(module)
    if not session.exists():
        return None
    why = classify(module, (ROOT / module.path).read_text())
    killed = total = skipped = outside = 0
    survivors: list[str] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        pending = db.num_work_items - db.num_results
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.NO_TEST:
                continue  # no mutation was possible at that spot
            spec = item.mutations[0]
            reason = why(spec.start_pos)
            if reason == OUTSIDE:
                outside += 1
                continue
            if reason == ANNOTATION or result.worker_outcome == WorkerOutcome.SKIPPED:
                skipped += 1
                continue
            total += 1
            if result.test_outcome == TestOutcome.SURVIVED:
                survivors.append(
                    f"{spec.module_path}:{spec.start_pos[0]} "
                    f"{spec.operator_name} #{spec.occurrence}\n{result.diff or ''}"
                )
            else:
                killed += 1
    return Result(module, killed, total, pending, skipped, outside, survivors)


def report(modules: list[Module], minimum: float, show_survivors: bool) -> int:
    results = [read_result(m) for m in modules]
    if show_survivors:
        for res in results:
            if res is None or not res.survivors:
                continue
            print(f"\n-- {res.module.name}: {len(res.survivors)} surviving mutant(s)")
            for text in res.survivors:
                print(text.rstrip())
    width = max(len(m.name) for m in modules)
    print(f"\n{'module'.ljust(width)}  killed/total   kill%  path")
    failed = False
    for module, res in zip(modules, results, strict=True):
        if res is None:
            print(f"{module.name.ljust(width)}  not run")
            failed = True
            continue
        note = f"  ({res.pending} not run)" if res.pending else ""
        if res.skipped:
            note += f"  (+{res.skipped} in annotations, skipped)"
        if res.outside:
            note += f"  (+{res.outside} outside the selected functions: not run)"
        bad = res.rate < minimum or res.pending > 0
        failed = failed or bad
        print(
            f"{module.name.ljust(width)}  {res.killed:>6}/{res.total:<5}  "
            f"{res.rate:5.1f}%  {module.path}{note}{'  < ' + str(minimum) if bad else ''}"
        )
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="modules.toml entries (default: all)")
    parser.add_argument("--report", action="store_true", help="only print results")
    parser.add_argument("--min", type=float, default=90.0, help="kill%% required")
    parser.add_argument("--quiet", action="store_true", help="no survivor diffs")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run only the last run's surviving mutants again (after new tests)",
    )
    args = parser.parse_args()
    modules = load_modules()
    if args.names:
        known = {m.name: m for m in modules}
        unknown = [n for n in args.names if n not in known]
        if unknown:
            parser.error(f"not in {CONFIG.name}: {', '.join(unknown)}")
        modules = [known[n] for n in args.names]
    if not args.report:
        WORK.mkdir(exist_ok=True)
        for module in modules:
            copy_tree(module)
            run_module(module, survivors_only=args.survivors)
    return report(modules, args.min, not args.quiet)


if __name__ == "__main__":
    sys.exit(main())
