"""Benchmark: the warm read path of the Dakora server against its baselines.

Run it from the repository root (not collected by pytest)::

    .venv/bin/python tests/perf/bench_fetch.py [--duration 5] [--connections 32]
                                               [--rounds 5] [--only render]

In one run it starts, each as its own process on loopback with uvicorn (uvloop +
httptools when installed, one worker, no access log):

1. ``dakora serve`` on a temporary data dir (SQLite), with ``sample-repo/`` imported
   as project ``bench/bench`` and a read key (the fast path on: the default), and the
   same server with ``DAKORA_FAST_PATH=false`` on the same data (for information);
2. the baselines, serving the very bytes Dakora serves (no auth, no lookups): a raw
   ASGI callable (the prebuilt headers and body: the ceiling of any Python app under
   uvicorn), and a FastAPI app with three routes: ``GET`` returning
   ``Response(bytes)``, ``GET`` returning the prompt as a ``dict``, and an async
   ``POST`` that validates the render body (a pydantic model like ``RenderIn``) and
   returns the render's response as a ``dict``.

Each row is driven by ``wrk`` (the Debian package ``wrk``; without it, the Python load
generator of this file, which shares the cores and so reads lower) at full load,
``--connections`` connections for ``--duration`` seconds, in ``--rounds`` interleaved
rounds (every row once per round, so a busy moment hurts all rows alike); the median
of the rounds is printed, with the spread (min–max) and the server's CPU time per
request (its median: robust to a busy machine). Then, open loop at half of Dakora's
rate (the Python generator: latency from each request's scheduled start), the p99.

Targets (issue 13, docs/design.md §7): warm ``GET`` ≥ 0.5 of the raw ASGI callable;
``POST …/render`` ≥ 1.5 of the FastAPI ``POST`` returning the same dict; p99 ≤ 5 ms
at half load. The load average before and after the run is printed: on a shared
machine, read the numbers with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[2]
PROMPT_ID = "support-reply"
RENDER_INPUTS = {"customer": "Ada", "ticket": "Charged twice"}


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


class RenderBody(BaseModel):
    """The FastAPI baseline's body: the shape of RenderIn (api/schemas.py)."""

    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, Any] = Field(default_factory=dict)
    ref: str | None = None
    version: str | None = None
    commit: str | None = None


# -- the baselines (each runs in its own process) ---------------------------------------


def run_baseline(args: argparse.Namespace) -> None:
    """``asgi``: a raw ASGI callable; ``fastapi``: the three FastAPI routes."""
    import uvicorn

    body = Path(args.body).read_bytes()
    render_body = Path(args.render_body).read_bytes()
    headers = json.loads(Path(args.raw_headers).read_text())
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if args.serve_baseline == "asgi":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":  # lifespan: nothing to do
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                    await receive()
                await send({"type": "lifespan.shutdown.complete"})
                return
            await send({"type": "http.response.start", "status": 200, "headers": raw})
            await send({"type": "http.response.body", "body": body})

        uvicorn.run(app, host="127.0.0.1", port=args.port, **_uvicorn_fast())
        return

    from fastapi import FastAPI
    from fastapi.responses import Response

    prompt_dict = json.loads(body)
    render_dict = json.loads(render_body)
    fastapi_app = FastAPI()

    @fastapi_app.get("/api/projects/{project}/prompts/{prompt_id}")
    async def prompt_bytes(project: str, prompt_id: str) -> Response:
        return Response(body, media_type="application/json")

    @fastapi_app.get("/dict/projects/{project}/prompts/{prompt_id}")
    async def prompt_dict_route(project: str, prompt_id: str) -> dict[str, Any]:
        return prompt_dict  # type: ignore[no-any-return]

    @fastapi_app.post("/api/projects/{project}/prompts/{prompt_id}/render")
    async def render(project: str, prompt_id: str, data: RenderBody) -> dict[str, Any]:
        return render_dict  # type: ignore[no-any-return]

    uvicorn.run(fastapi_app, host="127.0.0.1", port=args.port, **_uvicorn_fast())


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


def _row(name: str, r: dict[str, Any]) -> str:
    """One line of a ``_drive`` result (the other benchmarks print with it too)."""
    return (
        f"  {name:<34} {r['rps']:>9.0f} req/s   p50 {r['p50_ms']:6.2f} ms   "
        f"p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors)"
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _tree_cpu_seconds(pid: int) -> float:
    """:func:`_cpu_seconds` of a process and of every live descendant (the render
    workers of ``dakora serve`` are its fork server's children)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    total = 0.0
    for p in tree:
        with contextlib.suppress(OSError):
            total += _cpu_seconds(p)
    return total


def _wrk(
    port: int,
    path: str,
    headers: dict[str, str],
    connections: int,
    duration: float,
    *,
    method: str = "GET",
    data: str = "",
    script_dir: Path,
) -> dict[str, Any]:
    """One wrk run (one thread: the other core is the server's)."""
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
    ]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if method != "GET":
        script = script_dir / "post.lua"
        script.write_text(
            f"wrk.method = {json.dumps(method)}\n"
            f"wrk.body = {json.dumps(data)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        cmd += ["-s", str(script)]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = {
        "errors": 0,
        "p50_ms": float("nan"),
        "p99_ms": float("nan"),
    }
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(words[1])
        elif "requests in" in line:
            result["requests"] = int(words[0])
        elif line.startswith("Non-2xx or 3xx responses:"):
            result["errors"] += int(words[-1])
        elif line.startswith("  Socket errors:"):
            result["errors"] += sum(int(w.strip(",")) for w in words[3::2])
        elif words[:1] in (["50%"], ["99%"]):
            result[f"p{words[0][:-1]}_ms"] = _ms(words[1])
    return result


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


@dataclass
class Target:
    """One row: a server, a request, and what was measured in each round."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    data: str = ""
    expect: int = 200
    runs: list[dict[str, Any]] = field(default_factory=list)

    def run(self, args: argparse.Namespace, script_dir: Path, duration: float) -> None:
        before = _cpu_seconds(self.proc.pid)
        tree_before = _tree_cpu_seconds(self.proc.pid)
        if shutil.which("wrk"):
            r = _wrk(
                self.port,
                self.path,
                self.headers,
                args.connections,
                duration,
                method=self.method,
                data=self.data,
                script_dir=script_dir,
            )
        else:
            r = _drive(
                self.port,
                self.path,
                self.headers,
                args.connections,
                duration,
                method=self.method,
                data=self.data,
                expect=self.expect,
            )
        r["cpu_us"] = (
            (_cpu_seconds(self.proc.pid) - before) / max(r["requests"], 1) * 1e6
        )
        # with the server's worker processes (render workers): the whole cost
        r["tree_cpu_us"] = (
            (_tree_cpu_seconds(self.proc.pid) - tree_before)
            / max(r["requests"], 1)
            * 1e6
        )
        self.runs.append(r)

    def median(self, key: str) -> float:
        return float(statistics.median(r[key] for r in self.runs))

    def row(self) -> str:
        rps = [r["rps"] for r in self.runs]
        errors = sum(r["errors"] for r in self.runs)
        return (
            f"  {self.name:<44} {self.median('rps'):>8.0f} req/s "
            f"({min(rps):.0f}–{max(rps):.0f})  p99 {self.median('p99_ms'):6.2f} ms  "
            f"CPU {self.median('cpu_us'):5.0f} µs/req "
            f"(with workers {self.median('tree_cpu_us'):4.0f})"
            + (f"  {errors} ERRORS" if errors else "")
        )


def _load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} CPUs)"


def _start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait(port, proc)
    return proc


def _dakora(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    cmd = [str(Path(sys.executable).parent / "dakora"), "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--no-access-log"]
    return _start(cmd, env, port), port


def orchestrate(args: argparse.Namespace) -> int:
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="dakora-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        print(f"load average before: {_load_average()}")
        data_dir = tmp / "data"
        project_id, key = _setup(data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
        dakora, dakora_port = _dakora(data_dir, env)
        procs.append(dakora)
        slow, slow_port = _dakora(data_dir, {**env, "DAKORA_FAST_PATH": "false"})
        procs.append(slow)
        path = f"/api/projects/{project_id}/prompts/{PROMPT_ID}"
        auth = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{dakora_port}"
        warm = httpx.get(base + path, headers=auth)
        warm.raise_for_status()
        etag = warm.headers["etag"]
        render_data = json.dumps({"inputs": RENDER_INPUTS})
        json_auth = {**auth, "Content-Type": "application/json"}
        rendered = httpx.post(
            base + path + "/render", headers=json_auth, content=render_data
        )
        rendered.raise_for_status()
        (tmp / "body.json").write_bytes(warm.content)
        (tmp / "render.json").write_bytes(rendered.content)
        raw_headers = [
            (k, v) for k, v in warm.headers.items() if k not in ("date", "server")
        ]
        (tmp / "headers.json").write_text(json.dumps(raw_headers))
        baseline: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        for kind in ("asgi", "fastapi"):
            port = _free_port()
            cmd = [sys.executable, __file__, "--serve-baseline", kind]
            cmd += ["--port", str(port), "--body", str(tmp / "body.json")]
            cmd += ["--render-body", str(tmp / "render.json")]
            cmd += ["--raw-headers", str(tmp / "headers.json")]
            baseline[kind] = (_start(cmd, env, port), port)
            procs.append(baseline[kind][0])
        asgi, fapi = baseline["asgi"], baseline["fastapi"]
        for url in (
            f"http://127.0.0.1:{asgi[1]}{path}",
            f"http://127.0.0.1:{fapi[1]}{path}",
        ):
            assert httpx.get(url).content == warm.content, (
                "baselines serve the same bytes"
            )
        dict_path = path.replace("/api/", "/dict/", 1)
        same = httpx.get(f"http://127.0.0.1:{fapi[1]}{dict_path}").json()
        assert same == warm.json(), "the dict baseline serves the same JSON"
        same = httpx.post(
            f"http://127.0.0.1:{fapi[1]}{path}/render",
            content=render_data,
            headers={"Content-Type": "application/json"},
        ).json()
        assert same == rendered.json(), "the POST baseline answers the same JSON"

        post = {"method": "POST", "data": render_data}
        get_row = Target(
            "dakora GET prompt (key, ETag)", dakora, dakora_port, path, auth
        )
        asgi_row = Target("  raw ASGI callable, same bytes", asgi[0], asgi[1], path)
        bytes_row = Target("  FastAPI Response(bytes)", fapi[0], fapi[1], path)
        dict_row = Target("  FastAPI return dict", fapi[0], fapi[1], dict_path)
        inm = {**auth, "If-None-Match": etag}
        nm_row = Target(
            "dakora GET prompt, ETag → 304", dakora, dakora_port, path, inm, expect=304
        )
        render_row = Target(
            "dakora POST render", dakora, dakora_port, path + "/render", auth, **post
        )  # type: ignore[arg-type]
        post_row = Target(
            "  FastAPI POST returning the same dict",
            fapi[0],
            fapi[1],
            path + "/render",
            **post,
        )  # type: ignore[arg-type]
        slow_get = Target(
            "GET prompt, DAKORA_FAST_PATH=false", slow, slow_port, path, auth
        )
        slow_render = Target(
            "POST render, DAKORA_FAST_PATH=false",
            slow,
            slow_port,
            path + "/render",
            auth,
            **post,
        )  # type: ignore[arg-type]
        rows = [
            get_row,
            asgi_row,
            bytes_row,
            dict_row,
            nm_row,
            render_row,
            post_row,
            slow_get,
            slow_render,
        ]
        if args.only == "render":
            rows = [render_row, post_row, slow_render]
        c, d = args.connections, args.duration
        print(
            f"warm GET prompt: {len(warm.content)} bytes JSON; render: "
            f"{len(rendered.content)} bytes; {c} connections, {d:g} s, "
            f"{args.rounds} interleaved rounds, medians (min–max), load: "
            f"{'wrk' if shutil.which('wrk') else 'Python generator (no wrk: lower)'}"
        )
        for row in rows:  # warm-up
            row.run(args, tmp, 1.0)
            row.runs.clear()
        for _round in range(args.rounds):
            for row in rows:
                row.run(args, tmp, d)
        if args.only == "render":
            return _render_only(render_row, post_row, slow_render)
        print("full load (closed loop):")
        for row in rows[:5]:
            print(row.row())
        for row in rows[5:7]:
            print(row.row())
        print("for information (the same server, the fast path off):")
        for row in rows[7:]:
            print(row.row())

        def ratio(a: Target, b: Target, key: str = "rps") -> float:
            return a.median(key) / b.median(key)

        get_ratio = ratio(get_row, asgi_row)
        render_ratio = ratio(render_row, post_row)
        print("ratios (req/s; CPU per request in brackets, baseline / dakora):")
        print(
            f"  GET prompt / raw ASGI          {get_ratio:5.2f} "
            f"[{ratio(asgi_row, get_row, 'cpu_us'):.2f}]   target >= 0.5"
        )
        print(
            f"  GET prompt / FastAPI bytes     {ratio(get_row, bytes_row):5.2f} "
            f"[{ratio(bytes_row, get_row, 'cpu_us'):.2f}]"
        )
        print(
            f"  GET prompt / FastAPI dict      {ratio(get_row, dict_row):5.2f} "
            f"[{ratio(dict_row, get_row, 'cpu_us'):.2f}]"
        )
        print(
            f"  POST render / FastAPI POST     {render_ratio:5.2f} "
            f"[{ratio(post_row, render_row, 'cpu_us'):.2f}]   target >= 1.5"
        )
        print(
            f"  fast path on / off: GET {ratio(get_row, slow_get):.2f}, "
            f"render {ratio(render_row, slow_render):.2f}"
        )
        half = get_row.median("rps") / 2
        half_dakora = _drive(dakora_port, path, auth, c, d, rate=half)
        p99 = half_dakora["p99_ms"]
        print(
            f"half load (open loop at {half:.0f} req/s, Python generator): dakora GET "
            f"p50 {half_dakora['p50_ms']:.2f} ms, p99 {p99:.2f} ms (target <= 5 ms)"
        )
        ok = get_ratio >= 0.5 and render_ratio >= 1.5 and p99 <= 5.0
        print(f"load average after: {_load_average()}")
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


def _render_only(render_row: Target, post_row: Target, slow_render: Target) -> int:
    """``--only render``: the render rows, their ratio per round and its spread."""
    for row in (render_row, post_row, slow_render):
        print(row.row())
    ratios = [
        a["rps"] / b["rps"] for a, b in zip(render_row.runs, post_row.runs, strict=True)
    ]
    print(
        f"  POST render / FastAPI POST     "
        f"{render_row.median('rps') / post_row.median('rps'):5.2f} (per round "
        f"{min(ratios):.2f}–{max(ratios):.2f}; CPU per request, baseline / dakora: "
        f"{post_row.median('cpu_us') / render_row.median('cpu_us'):.2f}, with the "
        f"render workers {post_row.median('cpu_us') / render_row.median('tree_cpu_us'):.2f})"
        "   target >= 1.5"
    )
    print(f"load average after: {_load_average()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=["all", "render"],
        default="all",
        help="render: only the POST render rows (Dakora, its FastAPI baseline, the "
        "fast path off)",
    )
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-baseline", help=argparse.SUPPRESS)
    parser.add_argument("--render-body", help=argparse.SUPPRESS)
    parser.add_argument("--raw-headers", help=argparse.SUPPRESS)
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
    if args.serve_baseline:
        run_baseline(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
