"""Benchmark: what the access log costs the server, on the warm ``GET prompt``.

    .venv/bin/python tests/perf/bench_access_log.py [--duration 5] [--connections 32]
                                                    [--rounds 3] [--dakora PATH]

In one run it starts two ``dakora serve`` processes on the same temporary data dir
(SQLite, ``sample-repo/`` imported as ``bench/bench``, a read key), one with
``--access-log`` and one with ``--no-access-log``, both writing their log to a file
(stderr redirected, as under a process manager), and drives each with the load
generator of ``bench_fetch.py`` (closed loop, ``--connections`` keep-alive connections
for ``--duration`` seconds), alternating the two for ``--rounds`` rounds and keeping
each one's best round, so a busy machine hurts both alike.

Prints req/s of each, the ratio log on / log off, and the server CPU time per request
of each (the steadier figure on a shared machine). The target of issue 13 is a log
cost <= 5 % (ratio >= 0.95). ``--dakora`` points at another install (e.g. a checkout
of main) to compare before and after. Not a test: pytest does not collect
``bench_*.py``; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fetch import (  # noqa: E402
    PROMPT_ID,
    _cpu_seconds,
    _drive,
    _free_port,
    _row,
    _setup,
    _wait,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--dakora",
        default=str(Path(sys.executable).parent / "dakora"),
        help="the dakora executable to run (default: this interpreter's)",
    )
    args = parser.parse_args()
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="dakora-bench-log-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    try:
        data_dir = tmp / "data"
        project_id, key = _setup(data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
        ports: dict[str, int] = {}
        for name, flag in (("log on", "--access-log"), ("log off", "--no-access-log")):
            ports[name] = _free_port()
            logs[name] = tmp / f"{name.replace(' ', '-')}.log"
            with logs[name].open("wb") as log:
                procs[name] = subprocess.Popen(
                    [
                        args.dakora,
                        "serve",
                        "--port",
                        str(ports[name]),
                        "--data-dir",
                        str(data_dir),
                        flag,
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            _wait(ports[name], procs[name])
        path = f"/api/projects/{project_id}/prompts/{PROMPT_ID}"
        headers = {"Authorization": f"Bearer {key}"}
        for port in ports.values():
            httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers)
            _drive(port, path, headers, args.connections, 1.0)  # warm-up
        best: dict[str, dict[str, Any]] = {name: {"rps": 0.0} for name in ports}
        cpu = {name: float("inf") for name in ports}
        for _round in range(args.rounds):
            for name, port in ports.items():
                before = _cpu_seconds(procs[name].pid)
                r = _drive(port, path, headers, args.connections, args.duration)
                used = (_cpu_seconds(procs[name].pid) - before) / max(r["requests"], 1)
                cpu[name] = min(cpu[name], used)
                if r["rps"] > best[name]["rps"]:
                    best[name] = r
        lines = sum(1 for _ in logs["log on"].open("rb"))
        print(f"dakora: {args.dakora}")
        print(
            f"warm GET prompt, {args.connections} connections, {args.duration}s, "
            f"best of {args.rounds} alternating rounds; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        for name in ports:
            print(_row(f"dakora serve, access {name}", best[name]))
        ratio = best["log on"]["rps"] / best["log off"]["rps"]
        cpu_ratio = cpu["log off"] / cpu["log on"]
        print(f"ratio log on / log off: {ratio:.2f} req/s (target >= 0.95)")
        print(
            f"server CPU per request: log on {cpu['log on'] * 1e6:.0f} µs, log off "
            f"{cpu['log off'] * 1e6:.0f} µs → ratio {cpu_ratio:.2f} (robust to a "
            "busy machine)"
        )
        print(f"the log-on server wrote {lines} lines")
        return 0
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
