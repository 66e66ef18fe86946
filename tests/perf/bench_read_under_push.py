"""Benchmark: warm reads while pushes run (issue 10, finding 11).

Run it from the repository root (not collected by pytest)::

    .venv/bin/python tests/perf/bench_read_under_push.py [--duration 10]
        [--connections 200] [--pushes 4] [--prompts 300]

It starts ``dakora serve`` (SQLite, a temporary data dir) with ``sample-repo/`` pushed
into project ``bench/reads``, and ``--pushes`` projects that receive pushes. Then, with
the load generator of ``bench_fetch.py`` (its own process; ``--connections`` keep-alive
connections, open loop, latency measured from each request's scheduled start so
queueing counts):

1. the maximum rate of warm ``GET …/prompts/support-reply`` (closed loop), the
   baseline of this run;
2. warm GETs at half of that rate, nothing else running;
3. the same while ``--pushes`` ``git push`` loops run against their own projects
   (each push: one commit adding ``--prompts`` new prompt files), so that many pushes
   are in flight the whole time.

It prints p50 / p99 of (2) and (3), and how many pushes were accepted meanwhile.
Target: p99 of (3) ≤ 50 ms (docs/operations.md, "Reads while pushes run").
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.server import LiveServer, _server_env  # noqa: E402
from tests.perf.bench_fetch import _drive, _row  # noqa: E402
from tests.perf.bench_push import TEMPLATE  # noqa: E402

PROMPT = "support-reply"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


class PushLoop(threading.Thread):
    """``git push`` of a new commit (``prompts`` new files) in a loop, until stopped."""

    def __init__(self, work: Path, remote: str, prompts: int, tag: str) -> None:
        super().__init__(daemon=True)
        self.work, self.remote, self.prompts, self.tag = work, remote, prompts, tag
        self.stop = threading.Event()
        self.accepted = self.failed = 0
        _git(work.parent, "init", "-q", "-b", "main", str(work))
        (work / "prompts").mkdir()
        (work / "parts" / "system").mkdir(parents=True)
        (work / "parts" / "system" / "tone.md").write_text("Be kind.\n")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", "start")
        _git(work, "push", "-q", remote, "HEAD:refs/heads/main")
        self.round = 0

    def _commit(self) -> None:
        self.round += 1
        for n in range(self.prompts):
            pid = f"{self.tag}-{self.round:04d}-{n:04d}"
            (self.work / "prompts" / f"{pid}.yaml").write_text(
                TEMPLATE.format(pid=pid, version="1.0.0", n=n)
            )
        _git(self.work, "add", "-A")
        _git(self.work, "commit", "-q", "-m", f"round {self.round}")

    def run(self) -> None:
        while not self.stop.is_set():
            self._commit()
            done = subprocess.run(
                ["git", "push", "-q", self.remote, "HEAD:refs/heads/main"],
                cwd=self.work,
                capture_output=True,
            )
            if done.returncode == 0:
                self.accepted += 1
            else:
                self.failed += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=300)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dakora-bench-rp-"))
    data = base / "data"
    data.mkdir()
    url = f"sqlite:///{(data / 'dakora.db').as_posix()}"
    live = LiveServer(data_dir=data, database_url=url, env=_server_env(data, url, {}))
    live.start()
    try:
        live.create_workspace("bench")
        reads = live.create_project("bench", "reads", ROOT / "sample-repo")
        read = live.create_key("bench/reads", "read")["key"]
        path = f"/api/projects/{reads['id']}/prompts/{PROMPT}"
        headers = {"Authorization": f"Bearer {read}"}
        loops = []
        for i in range(args.pushes):
            live.create_project("bench", f"push{i}")
            key = live.create_key(f"bench/push{i}", "write")["key"]
            remote = f"http://git:{key}@127.0.0.1:{live.port}/git/bench/push{i}.git"
            loops.append(PushLoop(base / f"push{i}", remote, args.prompts, f"p{i}"))
        _drive(live.port, path, headers, args.connections, 2.0)  # warm up
        full = _drive(live.port, path, headers, args.connections, 3.0)
        rate = full["rps"] / 2
        print(f"warm GET, {args.connections} connections (max rate, closed loop):")
        print(_row("max rate", full))
        quiet = _drive(live.port, path, headers, args.connections, args.duration, rate)
        for loop in loops:
            loop.start()
        time.sleep(1.0)  # every loop has a push in flight
        busy = _drive(live.port, path, headers, args.connections, args.duration, rate)
        for loop in loops:
            loop.stop.set()
        for loop in loops:
            loop.join()
        accepted = sum(loop.accepted for loop in loops)
        failed = sum(loop.failed for loop in loops)
        print(f"open loop at {rate:.0f} req/s (half the max):")
        print(_row("nothing else running", quiet))
        print(_row(f"{args.pushes} push loops running", busy))
        print(
            f"  pushes meanwhile: {accepted} accepted, {failed} failed "
            f"({args.prompts} new prompts each)"
        )
        ok = busy["errors"] == 0 and busy["p99_ms"] <= 50.0 and failed == 0
        print(f"target p99 ≤ 50 ms with pushes in flight: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        live.close()


if __name__ == "__main__":
    raise SystemExit(main())
