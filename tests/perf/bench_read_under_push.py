"""Benchmark: warm reads while pushes run (issue 10, finding 11).

Run it from the repository root (not collected by pytest)::

    .venv/bin/python tests/perf/bench_read_under_push.py [--duration 10]
        [--connections 200] [--pushes 4] [--prompts 300] [--rounds 3]
        [--client-nice 10] [--rate REQ_PER_S]

It starts ``dakora serve`` (SQLite, a temporary data dir) with ``sample-repo/`` pushed
into project ``bench/reads``, and ``--pushes`` projects that receive pushes. Then, with
the load generator of ``bench_fetch.py`` (its own process; ``--connections`` keep-alive
connections, open loop, latency measured from each request's scheduled start so
queueing counts):

1. the maximum rate of warm ``GET …/prompts/support-reply`` (closed loop), the
   baseline of this run;
2. ``--rounds`` rounds of: warm GETs at half of that rate, nothing else running; then
   the same while ``--pushes`` ``git push`` loops run against their own projects
   (each push: one commit adding ``--prompts`` new prompt files), so that many pushes
   are in flight the whole time.

It prints p50 / p99 of every round, their medians and spread, and how many pushes
were accepted meanwhile. Target: the median p99 with pushes ≤ 50 ms
(docs/operations.md, "Reads while pushes run").

The pushing clients (``git add``, ``git commit``, ``git push`` and its
``git-remote-http`` / ``pack-objects``) run ``--client-nice`` steps below the server
(default 19), each in a session of its own with the lowest autogroup weight and in
the idle scheduling class: in production they are other machines, here they share
the server's 2 cores, and at the server's priority they took as much CPU as the
server itself.
The load generator keeps the server's priority (it measures the latency).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
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


CLIENT_NICE = 19


def _below(step: int) -> None:
    """Make this (forked, about to exec) git client as unobtrusive as a client on
    another machine can be made on this one: its own session, whose scheduler
    autogroup is set to the lowest weight (with autogroups, nice only orders the
    processes of one session: the clients, started from this script, would otherwise
    share the load generator's group and take half of it), ``step`` nice steps down
    and the idle scheduling class (any other task preempts it on wake-up)."""
    os.setsid()
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text("19")
    os.nice(step)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _git(cwd: Path, *args: str, nice: int = 0) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        preexec_fn=(lambda: _below(nice)) if nice else None,  # noqa: PLW1509
    )


class PushLoop(threading.Thread):
    """``git push`` of a new commit (``prompts`` new files) in a loop, while
    :attr:`running` is set, until :attr:`stop` is; the clients at ``nice``."""

    def __init__(
        self, work: Path, remote: str, prompts: int, tag: str, nice: int = CLIENT_NICE
    ) -> None:
        super().__init__(daemon=True)
        self.work, self.remote, self.prompts, self.tag = work, remote, prompts, tag
        self.nice = nice
        self.stop = threading.Event()
        self.running = threading.Event()
        self.idle = threading.Event()  # set between pushes while paused
        self.accepted = self.failed = 0
        for step in (
            ("init", "-q", "-b", "main", str(work)),
            ("-C", str(work), "config", "user.email", "bench@example.com"),
            ("-C", str(work), "config", "user.name", "bench"),
        ):
            _git(work.parent, *step).check_returncode()
        (work / "prompts").mkdir()
        (work / "parts" / "system").mkdir(parents=True)
        (work / "parts" / "system" / "tone.md").write_text("Be kind.\n")
        _git(work, "add", "-A").check_returncode()
        _git(work, "commit", "-q", "-m", "start").check_returncode()
        _git(work, "push", "-q", remote, "HEAD:refs/heads/main").check_returncode()
        self.round = 0

    def _commit(self) -> None:
        self.round += 1
        for n in range(self.prompts):
            pid = f"{self.tag}-{self.round:04d}-{n:04d}"
            (self.work / "prompts" / f"{pid}.yaml").write_text(
                TEMPLATE.format(pid=pid, version="1.0.0", n=n)
            )
        _git(self.work, "add", "-A", nice=self.nice).check_returncode()
        _git(
            self.work, "commit", "-q", "-m", f"round {self.round}", nice=self.nice
        ).check_returncode()

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.running.is_set():
                self.idle.set()
                self.running.wait(0.1)
                continue
            self.idle.clear()
            self._commit()
            done = _git(
                self.work,
                "push",
                "-q",
                self.remote,
                "HEAD:refs/heads/main",
                nice=self.nice,
            )
            if done.returncode == 0:
                self.accepted += 1
            else:
                self.failed += 1
        self.idle.set()

    def pause(self) -> None:
        """Stop starting pushes; return once the one in flight is done."""
        self.running.clear()
        self.idle.wait()


def _spread(rows: list[dict[str, float]], key: str) -> str:
    values = sorted(r[key] for r in rows)
    return (
        f"{statistics.median(values):.2f} ms ({', '.join(f'{v:.1f}' for v in values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="the open-loop rate in req/s (default: half the measured max)",
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=CLIENT_NICE,
        help="how many nice steps below the server the pushing git clients run",
    )
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dakora-bench-rp-"))
    data = base / "data"
    data.mkdir()
    url = f"sqlite:///{(data / 'dakora.db').as_posix()}"
    live = LiveServer(data_dir=data, database_url=url, env=_server_env(data, url, {}))
    live.start()
    loops: list[PushLoop] = []
    try:
        live.create_workspace("bench")
        reads = live.create_project("bench", "reads", ROOT / "sample-repo")
        read = live.create_key("bench/reads", "read")["key"]
        path = f"/api/projects/{reads['id']}/prompts/{PROMPT}"
        headers = {"Authorization": f"Bearer {read}"}
        for i in range(args.pushes):
            live.create_project("bench", f"push{i}")
            key = live.create_key(f"bench/push{i}", "write")["key"]
            remote = f"http://git:{key}@127.0.0.1:{live.port}/git/bench/push{i}.git"
            loops.append(
                PushLoop(
                    base / f"push{i}", remote, args.prompts, f"p{i}", args.client_nice
                )
            )
        for loop in loops:
            loop.start()
        _drive(live.port, path, headers, args.connections, 2.0)  # warm up
        full = _drive(live.port, path, headers, args.connections, 3.0)
        rate = args.rate or full["rps"] / 2
        print(f"warm GET, {args.connections} connections (max rate, closed loop):")
        print(_row("max rate", full))
        print(
            f"open loop at {rate:.0f} req/s "
            f"({'given' if args.rate else 'half the max'}), {args.rounds} rounds; "
            f"git clients at nice +{args.client_nice}:"
        )
        quiet_rows, busy_rows = [], []
        for n in range(1, args.rounds + 1):
            quiet = _drive(
                live.port, path, headers, args.connections, args.duration, rate
            )
            for loop in loops:
                loop.running.set()
            time.sleep(1.0)  # every loop has a push in flight
            busy = _drive(
                live.port, path, headers, args.connections, args.duration, rate
            )
            for loop in loops:
                loop.pause()
            print(_row(f"round {n}: nothing else running", quiet))
            print(_row(f"round {n}: {args.pushes} push loops running", busy))
            quiet_rows.append(quiet)
            busy_rows.append(busy)
        accepted = sum(loop.accepted for loop in loops)
        failed = sum(loop.failed for loop in loops)
        print(f"  p99 alone, median (rounds): {_spread(quiet_rows, 'p99_ms')}")
        print(f"  p99 with pushes, median (rounds): {_spread(busy_rows, 'p99_ms')}")
        print(f"  p50 with pushes, median (rounds): {_spread(busy_rows, 'p50_ms')}")
        print(
            f"  pushes meanwhile: {accepted} accepted, {failed} failed "
            f"({args.prompts} new prompts each)"
        )
        p99 = statistics.median(r["p99_ms"] for r in busy_rows)
        errors = sum(r["errors"] for r in busy_rows + quiet_rows)
        ok = errors == 0 and p99 <= 50.0 and failed == 0
        print(f"target p99 ≤ 50 ms with pushes in flight: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        for loop in loops:
            loop.stop.set()
            loop.running.set()
        for loop in loops:
            loop.join()
        live.close()


if __name__ == "__main__":
    raise SystemExit(main())
