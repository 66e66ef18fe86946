"""Soak: mixed traffic at half of the measured maximum rate, through the real server.

Run it from the repository root (not collected by pytest)::

    .venv/bin/python tests/perf/bench_soak.py [--duration 60] [--db sqlite|postgresql|both]
        [--rate REQ_PER_S]

For each database it starts ``dakora serve`` (SQLite in a temporary data dir, or a
throwaway PostgreSQL cluster as in the test fixtures) with ``sample-repo/`` imported,
then:

1. measures the maximum rate of warm ``GET …/prompts/support-reply`` (closed loop,
   16 connections, 5 s) — the baseline of this run;
2. sends open-loop mixed traffic at half of that rate for ``--duration`` seconds:
   ~88% warm GETs, ~10% renders, an API write (a version bump of one prompt) every
   second and a ``git push`` (a new prompt file, to a branch of its own) every 3 seconds. Latency is measured
   from each request's scheduled start, so queueing counts.

It prints, per kind: requests, errors (must be 0), p50 and p99; and the RSS of the
server with its worker processes at the start and the end of the soak (growth must
stay under 10%). ``--rate`` fixes the rate of reads instead (the load generator is
this Python process: on a loaded machine half its measured maximum can be more than
it can send on time, and then queueing in the client is counted as latency; compare
runs at one rate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.procs import family_rss_mib  # noqa: E402
from tests.fixtures.server import LiveServer, _server_env  # noqa: E402

WS, SLUG, PROMPT = "soak", "prompts", "support-reply"
RENDER_INPUTS = {"customer": "Ada", "ticket": "I was charged twice.", "tier": "pro"}


def _rss_mib(pid: int) -> float:
    """RSS of the server and its worker processes together."""
    return family_rss_mib(pid)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


async def _max_rate(client: httpx.AsyncClient, path: str, seconds: float) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            r = await client.get(path)
            r.raise_for_status()
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(16)))
    return done / (time.monotonic() - started)


class Soak:
    def __init__(
        self,
        server: LiveServer,
        base: Path,
        read_key: str,
        write_key: str,
        rate: float | None = None,
    ):
        self.server = server
        self.rate = rate  # reads per second; None: half the measured maximum
        self.base = base
        self.read_key = read_key
        self.write_key = write_key
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.version = [1, 2, 0]
        self.pushes = 0

    def _record(self, kind: str, scheduled: float, ok: bool, why: str = "") -> None:
        self.latency[kind].append(time.monotonic() - scheduled)
        if not ok:
            self.errors[kind].append(why[:200])

    async def get(self, client: httpx.AsyncClient, path: str, at: float) -> None:
        try:
            r = await client.get(path)
            self._record("get", at, r.status_code == 200, f"{r.status_code} {r.text}")
        except httpx.HTTPError as exc:
            self._record("get", at, False, repr(exc))

    async def render(self, client: httpx.AsyncClient, path: str, at: float) -> None:
        try:
            r = await client.post(path, json={"inputs": RENDER_INPUTS})
            self._record(
                "render", at, r.status_code == 200, f"{r.status_code} {r.text}"
            )
        except httpx.HTTPError as exc:
            self._record("render", at, False, repr(exc))

    async def write(self, client: httpx.AsyncClient, project: str, at: float) -> None:
        self.version[2] += 1
        version = ".".join(map(str, self.version))
        body = {
            "id": "soak-written",
            "version": version,
            "description": "written by the soak",
            "template": "Hello {{ name }}, this is version " + version + ".\n",
            "inputs": {"name": {"type": "string", "required": True}},
        }
        try:
            if version == "1.2.1":
                r = await client.post(f"/api/projects/{project}/prompts", json=body)
                ok = r.status_code == 201
            else:
                r = await client.put(
                    f"/api/projects/{project}/prompts/soak-written", json=body
                )
                ok = r.status_code == 200
            self._record("api-write", at, ok, f"{r.status_code} {r.text}")
        except httpx.HTTPError as exc:
            self._record("api-write", at, False, repr(exc))

    async def push(self, work: Path, at: float) -> None:
        self.pushes += 1
        n = self.pushes
        (work / "prompts" / "soak").mkdir(parents=True, exist_ok=True)
        (work / "prompts" / "soak" / f"pushed-{n}.yaml").write_text(
            f'id: pushed-{n}\nversion: "1.0.0"\ntemplate: "Hi {{{{ name }}}} #{n}"\n'
            "inputs:\n  name: {type: string}\n"
        )
        proc = await asyncio.create_subprocess_shell(
            # a branch of its own: the API writes move main meanwhile
            f"git add -A && git commit -qm 'soak push {n}' && "
            "git push -q origin HEAD:refs/heads/soak-pushes",
            cwd=work,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        self._record("push", at, proc.returncode == 0, out.decode(errors="replace"))

    async def run(self, project: str, duration: float) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.read_key}"}
        wheaders = {"Authorization": f"Bearer {self.write_key}"}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        get_path = f"/api/projects/{project}/prompts/{PROMPT}"
        render_path = f"/api/projects/{project}/prompts/{PROMPT}/render"
        work = self.base / "work"
        remote = (
            f"http://git:{self.write_key}@{self.server.host}:{self.server.port}"
            f"/git/{WS}/{SLUG}.git"
        )
        clone = _git(self.base, "clone", "-q", remote, str(work))
        assert clone.returncode == 0, clone.stderr
        async with (
            httpx.AsyncClient(
                base_url=self.server.base_url, headers=headers, limits=limits
            ) as client,
            httpx.AsyncClient(
                base_url=self.server.base_url, headers=wheaders, timeout=60
            ) as writer,
        ):
            await client.get(get_path)  # warm
            max_rate = await _max_rate(client, get_path, 5.0)
            rate = self.rate or max_rate / 2
            pid = self.server.process.pid if self.server.process else 0
            rss_start = _rss_mib(pid)
            rng = random.Random(1)
            tasks: set[asyncio.Task[None]] = set()
            start = time.monotonic()
            next_write, next_push = start + 1.0, start + 3.0
            writing: asyncio.Task[None] | None = None
            pushing: asyncio.Task[None] | None = None
            i = 0
            while True:
                at = start + i / rate
                if at - start >= duration:
                    break
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if rng.random() < 0.9:
                    job = self.get(client, get_path, at)
                else:
                    job = self.render(client, render_path, at)
                tasks.add(asyncio.create_task(job))
                now = time.monotonic()
                # one writer and one pusher, each waiting for its previous write
                # (two unpinned API writes racing on one branch: the loser is a
                # 409 "fetch and retry", by design)
                if now >= next_write and (writing is None or writing.done()):
                    writing = asyncio.create_task(self.write(writer, project, now))
                    tasks.add(writing)
                    next_write = now + 1.0
                if now >= next_push and (pushing is None or pushing.done()):
                    pushing = asyncio.create_task(self.push(work, now))
                    tasks.add(pushing)
                    next_push = now + 3.0
                tasks = {t for t in tasks if not t.done()}
                i += 1
            await asyncio.gather(*tasks)
            rss_end = _rss_mib(pid)
        return {"max_rate": max_rate, "rate": rate, "rss": (rss_start, rss_end)}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def soak(db: str, duration: float, rate: float | None = None) -> bool:
    base = Path(tempfile.mkdtemp(prefix=f"bench-soak-{db}-"))
    stack = contextlib.ExitStack()
    try:
        data = base / "data"
        data.mkdir()
        if db == "postgresql":
            from tests.fixtures.postgres import _throwaway_cluster

            url = stack.enter_context(_throwaway_cluster())
        else:
            url = f"sqlite:///{data / 'dakora.db'}"
        server = LiveServer(data, url, _server_env(data, url, {})).start()
        try:
            project = server.create_project(WS, SLUG, from_path=ROOT / "sample-repo")
            read_key = server.create_key(project["id"], "read")["key"]
            write_key = server.create_key(project["id"], "write")["key"]
            s = Soak(server, base, read_key, write_key, rate)
            result = asyncio.run(s.run(project["id"], duration))
        finally:
            server.close()
            log_text = server.log_text()
        print(f"\n== soak on {db}: {duration:.0f} s ==")
        print(
            f"max warm GET rate {result['max_rate']:,.0f} req/s (baseline, same run); "
            f"soak at {result['rate']:,.0f} req/s of reads"
        )
        print(f"{'kind':<10} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
        total_errors = 0
        for kind in ("get", "render", "api-write", "push"):
            lat = s.latency.get(kind, [])
            errs = s.errors.get(kind, [])
            total_errors += len(errs)
            p50 = statistics.median(lat) * 1000 if lat else float("nan")
            print(
                f"{kind:<10} {len(lat):>9} {len(errs):>7} {p50:>8.1f} "
                f"{_pct(lat, 0.99) * 1000:>8.1f}"
            )
            for why in errs[:3]:
                print(f"    error: {why}")
        if total_errors:  # the server's side of the errors, kept past the clean-up
            kept = Path(tempfile.gettempdir()) / f"dakora-soak-{db}-server.log"
            kept.write_text(log_text)
            print(f"    the server's log: {kept}")
        rss_start, rss_end = result["rss"]
        growth = (rss_end - rss_start) / rss_start * 100
        print(
            f"RSS (server + workers) {rss_start:.1f} MiB -> {rss_end:.1f} MiB "
            f"({growth:+.1f}%; "
            "target < +10%)"
        )
        return total_errors == 0 and growth < 10
    finally:
        stack.close()
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="reads per second (default: half the measured maximum)",
    )
    parser.add_argument(
        "--db", choices=["sqlite", "postgresql", "both"], default="both"
    )
    args = parser.parse_args()
    for var in ("GIT_AUTHOR", "GIT_COMMITTER"):
        os.environ.setdefault(f"{var}_NAME", "Soak")
        os.environ.setdefault(f"{var}_EMAIL", "soak@example.com")
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    ok = all([soak(db, args.duration, args.rate) for db in dbs])
    print("\nsoak:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
