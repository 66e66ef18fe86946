"""Benchmark: warm ``GET prompt`` of the Dakora server vs a bare FastAPI app.

Run it from the repository root (not collected by pytest)::

    .venv/bin/python tests/perf/bench_fetch.py [--duration 5] [--connections 32]
                                               [--rounds 3]

In one run it starts, each as its own process on loopback with uvicorn (uvloop +
httptools when installed, one worker, no access log):

1. ``dakora serve`` on a temporary data dir (SQLite), with ``sample-repo/`` imported
   as project ``bench/bench`` and a read key;
2. a bare FastAPI app whose one route returns the very same JSON bytes as a
   ``Response`` (no auth, no lookups): the ceiling for a FastAPI route.

A load generator (this file with ``--load``: asyncio + raw keep-alive HTTP/1.1
connections, another process) drives each server, first closed-loop at full load
(``--connections`` connections for ``--duration`` seconds; ``--rounds`` alternating
rounds, best of each kept), then open-loop at half of
the Dakora server's full-load rate (latency measured from each request's scheduled
start, so queueing is counted). It prints req/s, p50 and p99 of each, and the ratio.
Targets (docs/design.md §7 / issue): ratio ≥ 0.7; p99 ≤ 5 ms at half load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROMPT_ID = "support-reply"


# -- load generator (runs in its own process) -------------------------------------------


class _Conn(asyncio.Protocol):
    """One keep-alive connection: send a request, parse the response, call back."""

    def __init__(self, request: bytes, done: Any) -> None:
        self.request = request
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.ready = asyncio.get_running_loop().create_future()
        self.started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ready.set_result(None)

    def send(self, started: float) -> None:
        self.started = started
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            status = int(head[9:12])
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at)
                length = int(head[at + 15 : line_end if line_end >= 0 else None])
            total = end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            self.done(self, status, time.perf_counter() - self.started)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed"))


async def _load(
    port: int,
    request: bytes,
    connections: int,
    duration: float,
    rate: float | None,
    expect: int = 200,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    deadline = 0.0
    idle: deque[_Conn] = deque()
    backlog: deque[float] = deque()  # scheduled start times waiting for a connection

    def done(conn: _Conn, status: int, elapsed: float) -> None:
        nonlocal errors
        if status != expect:
            errors += 1
        latencies.append(elapsed)
        now = time.perf_counter()
        if rate is None:
            if now < deadline:
                conn.send(now)
            return
        if backlog:
            conn.send(backlog.popleft())
        else:
            idle.append(conn)

    conns = []
    for _ in range(connections):
        _t, conn = await loop.create_connection(
            lambda: _Conn(request, done), "127.0.0.1", port
        )
        await conn.ready
        conns.append(conn)
    start = time.perf_counter()
    deadline = start + duration
    if rate is None:
        for conn in conns:
            conn.send(time.perf_counter())
        await asyncio.sleep(duration)
    else:
        idle.extend(conns)
        interval = 1.0 / rate
        i = 0
        while True:
            scheduled = start + i * interval
            if scheduled >= deadline:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            if idle:
                idle.popleft().send(scheduled)
            else:
                backlog.append(scheduled)
            i += 1
    await asyncio.sleep(0.2)  # let in-flight responses land (counted in latency)
    elapsed = time.perf_counter() - start
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    return {
        "requests": n,
        "errors": errors,
        "rps": n / min(elapsed, duration) if rate is None else n / duration,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def run_load(args: argparse.Namespace) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    headers = json.loads(args.headers)
    body = args.data.encode() if args.data else b""
    if body:
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body))
    head = f"{args.method} {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (head + "\r\n").encode() + body
    result = asyncio.run(
        _load(
            args.port,
            request,
            args.connections,
            args.duration,
            args.rate,
            args.expect,
        )
    )
    print(json.dumps(result))


# -- the bare app (runs in its own process) ---------------------------------------------


def run_bare(args: argparse.Namespace) -> None:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    body = Path(args.body).read_bytes()
    app = FastAPI()

    @app.get("/api/projects/{project}/prompts/{prompt_id}")
    async def prompt(project: str, prompt_id: str) -> Response:
        return Response(body, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=args.port, **_uvicorn_fast())


def _uvicorn_fast() -> dict[str, Any]:
    from dakora.cli.server import _uvicorn_options

    return {"access_log": False, "log_level": "warning", **_uvicorn_options()}


# -- orchestration ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def _setup(data_dir: Path) -> tuple[str, str]:
    from dakora.registry import tenancy
    from dakora.registry.core.settings import Settings
    from dakora.registry.db import make_engine, upgrade
    from dakora.registry.index.importer import import_into_project
    from dakora.registry.tenancy import keys

    settings = Settings(data_dir=data_dir)
    settings.ensure_data_dir()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    tenancy.create_workspace(engine, "bench")
    project = tenancy.create_project(engine, settings, "bench", "bench")
    import_into_project(engine, project, ROOT / "sample-repo")
    key = keys.create_key(engine, settings.pepper(), project.id, scope="read")
    engine.dispose()
    return project.id, key.plaintext


def _drive(
    port: int,
    path: str,
    headers: dict[str, str],
    connections: int,
    duration: float,
    rate: float | None = None,
    *,
    method: str = "GET",
    data: str = "",
    expect: int = 200,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--load",
        "--port",
        str(port),
        "--path",
        path,
        "--headers",
        json.dumps(headers),
        "--connections",
        str(connections),
        "--duration",
        str(duration),
    ]
    if rate is not None:
        cmd += ["--rate", str(rate)]
    cmd += ["--method", method, "--data", data, "--expect", str(expect)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _row(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:<34} {r['rps']:>9.0f} req/s   p50 {r['p50_ms']:6.2f} ms   "
        f"p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors)"
    )


def orchestrate(args: argparse.Namespace) -> int:
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="dakora-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        data_dir = tmp / "data"
        project_id, key = _setup(data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
        dakora_port, bare_port = _free_port(), _free_port()
        dakora = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dakora"),
                "serve",
                "--port",
                str(dakora_port),
                "--data-dir",
                str(data_dir),
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(dakora)
        _wait(dakora_port, dakora)
        path = f"/api/projects/{project_id}/prompts/{PROMPT_ID}"
        headers = {"Authorization": f"Bearer {key}"}
        warm = httpx.get(f"http://127.0.0.1:{dakora_port}{path}", headers=headers)
        warm.raise_for_status()
        body_file = tmp / "body.json"
        body_file.write_bytes(warm.content)
        bare = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-bare",
                "--port",
                str(bare_port),
                "--body",
                str(body_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(bare)
        _wait(bare_port, bare)
        same = httpx.get(f"http://127.0.0.1:{bare_port}{path}").content
        assert same == warm.content, "the bare app must serve the same bytes"

        c, d = args.connections, args.duration
        print(f"warm GET prompt, {len(warm.content)} bytes JSON, {c} connections, {d}s")
        _drive(dakora_port, path, headers, c, 1.0)  # warm-up
        _drive(bare_port, path, {}, c, 1.0)
        # Alternate the two servers, keep each one's best round: a busy machine then
        # hurts both alike instead of whichever happened to run at the wrong moment.
        full_dakora: dict[str, Any] = {"rps": 0.0}
        full_bare: dict[str, Any] = {"rps": 0.0}
        cpu = {"dakora": float("inf"), "bare": float("inf")}
        for _round in range(args.rounds):
            before = _cpu_seconds(dakora.pid)
            r = _drive(dakora_port, path, headers, c, d)
            used = (_cpu_seconds(dakora.pid) - before) / max(r["requests"], 1)
            cpu["dakora"] = min(cpu["dakora"], used)
            full_dakora = r if r["rps"] > full_dakora["rps"] else full_dakora
            before = _cpu_seconds(bare.pid)
            r = _drive(bare_port, path, {}, c, d)
            used = (_cpu_seconds(bare.pid) - before) / max(r["requests"], 1)
            cpu["bare"] = min(cpu["bare"], used)
            full_bare = r if r["rps"] > full_bare["rps"] else full_bare
        half = full_dakora["rps"] / 2
        half_dakora = _drive(dakora_port, path, headers, c, d, rate=half)
        half_bare = _drive(bare_port, path, {}, c, d, rate=half)
        ratio = full_dakora["rps"] / full_bare["rps"]
        print("full load (closed loop):")
        print(_row("dakora GET prompt (key, ETag)", full_dakora))
        print(_row("bare FastAPI, same bytes", full_bare))
        print(f"half load (open loop at {half:.0f} req/s):")
        print(_row("dakora GET prompt", half_dakora))
        print(_row("bare FastAPI", half_bare))
        print(f"ratio dakora/bare at full load: {ratio:.2f} (target >= 0.7)")
        print(
            f"server CPU per request: dakora {cpu['dakora'] * 1e6:.0f} µs, bare "
            f"{cpu['bare'] * 1e6:.0f} µs → capacity ratio "
            f"{cpu['bare'] / cpu['dakora']:.2f} (robust to a busy machine)"
        )
        p99 = half_dakora["p99_ms"]
        print(f"dakora p99 at half load: {p99:.2f} ms (target <= 5 ms)")
        etag = warm.headers["etag"]
        not_modified = _drive(
            dakora_port, path, {**headers, "If-None-Match": etag}, c, d, expect=304
        )
        render = _drive(
            dakora_port,
            path + "/render",
            headers,
            c,
            d,
            method="POST",
            data=json.dumps({"inputs": {"customer": "Ada", "ticket": "Charged twice"}}),
        )
        print("for information (full load):")
        print(_row("dakora GET prompt, ETag → 304", not_modified))
        print(_row("dakora POST render", render))
        ok = ratio >= 0.7 and p99 <= 5.0
        print("RESULT:", "targets met" if ok else "targets NOT met")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--headers", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--body", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="GET", help=argparse.SUPPRESS)
    parser.add_argument("--data", default="", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        run_load(args)
        return 0
    if args.serve_bare:
        run_bare(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
