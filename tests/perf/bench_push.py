"""Benchmark: ``git push`` to ``dakora serve`` vs to a plain ``file://`` bare repo.

Run: ``.venv/bin/python tests/perf/bench_push.py [--big 1000] [--small 100]
[--large 10000] [--repeat 3]``. Not collected by pytest.

1. A commit adding N (1,000) prompts, pushed to the server (checks, quarantine,
   index, audit) and to a ``file://`` bare repo (git's own receive-pack): the ratio
   (target ≤ 4×).
2. A one-prompt change pushed into projects holding 100 and 10,000 prompts: the ratio
   of the medians (target ≤ 1.5×: the checks look at changed files plus cheap
   whole-repo rules, never re-parse the whole repository).
"""

from __future__ import annotations

import argparse
import os
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


def make_tree(path: Path, count: int, salt: str = "") -> None:
    git(path.parent, "init", "-q", "-b", "main", str(path))
    (path / "parts" / "system").mkdir(parents=True, exist_ok=True)
    (path / "parts" / "system" / "tone.md").write_text("Be kind.\n")
    (path / "prompts").mkdir(exist_ok=True)
    for n in range(count):
        pid = f"prompt-{n:05d}"
        (path / "prompts" / f"{pid}.yaml").write_text(
            TEMPLATE.format(pid=pid, version="1.0.0", n=f"{n}{salt}")
        )
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"{count} prompts")


def bump_one(path: Path, round_: int) -> None:
    target = path / "prompts" / "prompt-00000.yaml"
    target.write_text(
        TEMPLATE.format(pid="prompt-00000", version=f"1.0.{round_ + 1}", n=round_)
    )
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        base = Path(tmp)
        with Server(base / "srv") as server:
            # 1. a commit of N prompts: server vs file:// (new content each round,
            #    so every server push parses and checks every file: no warm cache)
            server_times, file_times = [], []
            for i in range(args.repeat):
                work = base / f"big{i}"
                make_tree(work, args.big, salt=f"-{i}")
                url = server.project(f"big{i}")
                server_times.append(timed_push(work, url))
                bare = base / f"bare{i}.git"
                git(base, "init", "-q", "--bare", "-b", "main", str(bare))
                file_times.append(timed_push(work, f"file://{bare}"))
            s, f = statistics.median(server_times), statistics.median(file_times)
            print(
                f"push of a {args.big}-prompt commit: server {s:.3f}s, "
                f"file:// {f:.3f}s, ratio {s / f:.2f}x (target <= 4x)"
            )

            # 2. one-prompt change into small and large projects, each pushed to the
            #    server and, as git's own baseline, to a file:// bare repo
            medians: dict[int, float] = {}
            file_medians: dict[int, float] = {}
            for size in (args.small, args.large):
                tree = base / f"tree{size}"
                make_tree(tree, size)
                url = server.project(f"p{size}")
                seed = timed_push(tree, url)
                bare = base / f"tree{size}.git"
                git(base, "init", "-q", "--bare", "-b", "main", str(bare))
                timed_push(tree, f"file://{bare}")
                print(f"  seeding {size} prompts took {seed:.2f}s")
                times, file_times = [], []
                for r in range(args.repeat + 1):
                    bump_one(tree, r)
                    t = timed_push(tree, url)
                    ft = timed_push(tree, f"file://{bare}")
                    if r:  # the first push warms the per-repo caches
                        times.append(t)
                        file_times.append(ft)
                medians[size] = statistics.median(times)
                file_medians[size] = statistics.median(file_times)
            small, large = medians[args.small], medians[args.large]
            f_small, f_large = file_medians[args.small], file_medians[args.large]
            print(
                f"one-prompt change: {args.small} prompts {small:.3f}s, "
                f"{args.large} prompts {large:.3f}s, ratio {large / small:.2f}x "
                f"(target <= 1.5x)"
            )
            print(
                f"  git's own baseline (file://): {args.small} prompts {f_small:.3f}s, "
                f"{args.large} prompts {f_large:.3f}s, ratio {f_large / f_small:.2f}x; "
                f"server over file://: {small / f_small:.2f}x at {args.small}, "
                f"{large / f_large:.2f}x at {args.large}"
            )


if __name__ == "__main__":
    main()
