"""Benchmark: ``git push`` to ``dakora serve`` vs to a plain ``file://`` bare repo.

Run: ``.venv/bin/python tests/perf/bench_push.py [--big 1000] [--small 100]
[--large 10000] [--repeat 3]``. Not collected by pytest.

The prompts are realistic: the sample repository's (``sample-repo/``: about 1.3 KB,
includes, typed inputs, examples) multiplied, each copy with its own id, plus the
sample's parts. Every row is measured against git's own ``file://`` push of the same
commit in the same run, and printed with its target:

1. a commit adding ``--big`` prompts, to a new project (target ≤ 4×);
2. a one-prompt version bump into projects of ``--small`` and ``--large`` prompts
   (target ≤ 1.5× of ``file://`` at every size: the checks look at what changed plus
   cheap whole-repository rules, never re-parse the repository);
3. the first push of a ``--large``-prompt repository (target ≤ 20×).

Each row is the median of ``--repeat`` rounds, the spread (min–max) in brackets. The
bumps start once the mirror has published the seed's versions (background work of
the server, one file per new version: not part of a push's latency, but it would
compete with the bumps for the CPU).

It exits non-zero when a push fails; a target not met is printed as ``NOT met``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.server import LiveServer, _server_env  # noqa: E402

TEMPLATE = """id: {pid}
version: "{version}"
description: Prompt number {n}
template: |
  {{% include "system/tone" %}}
  Hello {{{{ name }}}}, this is prompt {n}.
inputs:
  name: {{type: string, required: true}}
"""


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def timed_push(cwd: Path, remote: str, refspec: str = "HEAD:refs/heads/main") -> float:
    start = time.perf_counter()
    git(cwd, "push", "-q", remote, refspec)
    return time.perf_counter() - start


SAMPLE = ROOT / "sample-repo"


def _samples() -> list[tuple[str, str]]:
    """(id, text) of every sample prompt."""
    out = []
    for path in sorted((SAMPLE / "prompts").rglob("*.y*ml")):
        text = path.read_text()
        match = re.search(r"^id:\s*(\S+)", text, re.M)
        assert match, path
        out.append((match.group(1), text))
    return out


def _copy(sample: tuple[str, str], n: int, salt: str, version: str | None) -> str:
    pid, text = sample
    text = re.sub(r"^id:\s*\S+", f"id: {pid}-{n}{salt}", text, count=1, flags=re.M)
    if version is not None:
        text = re.sub(
            r"^version:.*$", f'version: "{version}"', text, count=1, flags=re.M
        )
    return text


def make_tree(path: Path, count: int, salt: str = "") -> None:
    """A repository of ``count`` sample prompts (and the sample's parts), one commit."""
    git(path.parent, "init", "-q", "-b", "main", str(path))
    shutil.copytree(SAMPLE / "parts", path / "parts")
    shutil.copy(SAMPLE / "dakora.yaml", path / "dakora.yaml")
    samples = _samples()
    (path / "prompts").mkdir()
    for n in range(count):
        sample = samples[n % len(samples)]
        (path / "prompts" / f"p{n:05d}.yaml").write_text(_copy(sample, n, salt, None))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"{count} prompts")


def bump_one(path: Path, round_: int) -> None:
    """A new version of the first prompt (its template changes too)."""
    sample = _samples()[0]
    text = _copy(sample, 0, "", f"9.0.{round_}")
    (path / "prompts" / "p00000.yaml").write_text(text + f"# round {round_}\n")
    git(path, "commit", "-q", "-am", f"bump {round_}")


class Server:
    def __init__(self, base: Path) -> None:
        data = base / "data"
        data.mkdir(parents=True)
        url = f"sqlite:///{(data / 'dakora.db').as_posix()}"
        self.live = LiveServer(
            data_dir=data, database_url=url, env=_server_env(data, url, {})
        )

    def __enter__(self) -> Server:
        self.live.start()
        self.live.create_workspace("bench")
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.close()

    def project(self, slug: str) -> str:
        self.live.create_project("bench", slug)
        key = self.live.create_key(f"bench/{slug}", "write")["key"]
        return f"http://git:{key}@127.0.0.1:{self.live.port}/git/bench/{slug}.git"


def _verdict(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "NOT met"


def _row(
    name: str,
    server: list[float],
    baseline: list[float],
    target: float,
) -> None:
    mid, base = statistics.median(server), statistics.median(baseline)
    ratio = mid / base
    spread = f"[{min(server):.3f}-{max(server):.3f}]"
    print(
        f"{name:<40} {mid:>7.3f}s {spread:<15} file:// {base:>6.3f}s  "
        f"{ratio:>6.2f}x  (target <= {target:g}x: {_verdict(ratio, target)})"
    )


def _wait_for_mirror(server: Server, timeout_s: float = 300.0) -> None:
    """Until the mirror outbox has no pending row (or ``timeout_s``)."""
    from sqlalchemy import func, select

    from dakora.registry.db import mirror_outbox

    engine = server.live.engine()  # disposed with the server
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.execute(
                select(func.count())
                .select_from(mirror_outbox)
                .where(mirror_outbox.c.done_at.is_(None))
            ).scalar_one()
        if not pending:
            return
        time.sleep(0.2)


def _bare(base: Path, name: str) -> str:
    bare = base / f"{name}.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    return f"file://{bare}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        base = Path(tmp)
        with Server(base / "srv") as server:
            # 1. a commit of N prompts into a new project (new content each round, so
            #    every server push parses and checks every file: no warm cache)
            server_times, file_times = [], []
            for i in range(args.repeat):
                work = base / f"big{i}"
                make_tree(work, args.big, salt=f"-{i}")
                server_times.append(timed_push(work, server.project(f"big{i}")))
                file_times.append(timed_push(work, _bare(base, f"big{i}")))
                _wait_for_mirror(server)
            _row(f"push of a {args.big}-prompt commit", server_times, file_times, 4)

            # 2. one-prompt bump into small and large projects; 3. the first push
            #    of the large one
            for size in (args.small, args.large):
                tree = base / f"tree{size}"
                make_tree(tree, size)
                url = server.project(f"p{size}")
                file_url = _bare(base, f"tree{size}")
                seeds, seed_files = [], []
                if size == args.large:
                    # first pushes of their own content (no warm parse cache), each
                    # to a new project; the last is the one the bumps go to
                    for i in range(args.repeat - 1):
                        other = base / f"seed{size}-{i}"
                        make_tree(other, size, salt=f"-s{i}")
                        seeds.append(timed_push(other, server.project(f"s{i}")))
                        seed_files.append(timed_push(other, _bare(base, f"s{i}")))
                        _wait_for_mirror(server)
                seeds.append(timed_push(tree, url))
                seed_files.append(timed_push(tree, file_url))
                _wait_for_mirror(server)
                if size == args.large:
                    _row(f"first push of {size} prompts", seeds, seed_files, 20)
                times, file_times = [], []
                for r in range(args.repeat + 1):
                    bump_one(tree, r)
                    t = timed_push(tree, url)
                    ft = timed_push(tree, file_url)
                    if r:  # the first push warms the per-repo caches
                        times.append(t)
                        file_times.append(ft)
                _row(f"one-prompt bump into {size} prompts", times, file_times, 1.5)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
