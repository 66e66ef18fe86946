"""What the SDK's cache buys: per-call latency of ``Dakora.prompts.get`` by path.

    .venv/bin/python tests/perf/bench_sdk.py [--n 2000]

Starts ``dakora serve --demo`` on a free loopback port with a temporary data dir, then
times, in the same run, ``prompts.get("summarize")`` when the answer comes from:

- ``network 200``: no cache (``max_cache_entries=0``): a full request and body;
- ``network 304``: ``cache_ttl=0``: a conditional request answered 304 (no body);
- ``cache``: a fresh entry (no request);
- ``stale``: a stale entry served at once (one background refresh per key);

and ``prompts.render``. Prints p50/p99 per path. Not a test; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from dakora.client import Dakora

ROOT = Path(__file__).resolve().parents[2]
DAKORA = str(Path(sys.executable).parent / "dakora")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _time(fn: Callable[[], object], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:9.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
        env.update(DAKORA_DATA_DIR=str(data), HOME=tmp)
        proc = subprocess.Popen(
            [DAKORA, "serve", "--demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            key_file = data / "demo-key.txt"
            while not key_file.exists():
                time.sleep(0.1)
            key = key_file.read_text().strip()
            _run(url, key, args.n)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _run(url: str, key: str, n: int) -> None:
    pid = "summarize"
    results: list[tuple[str, tuple[float, float]]] = []
    with Dakora(url, key, "demo/demo", max_cache_entries=0) as c:
        c.prompts.get(pid)
        results.append(("get: network 200", _time(lambda: c.prompts.get(pid), n)))
    with Dakora(url, key, "demo/demo", cache_ttl=0, stale_ttl=0) as c:
        c.prompts.get(pid)
        results.append(("get: network 304", _time(lambda: c.prompts.get(pid), n)))
        inputs = {"text": "Benchmarks are fun."}
        results.append(
            ("render (server)", _time(lambda: c.prompts.render(pid, inputs), n))
        )
    with Dakora(url, key, "demo/demo", cache_ttl=3600) as c:
        c.prompts.get(pid)
        results.append(("get: cache (fresh)", _time(lambda: c.prompts.get(pid), n)))
    clock = [0.0]
    with Dakora(
        url, key, "demo/demo", cache_ttl=1, stale_ttl=10**9, clock=lambda: clock[0]
    ) as c:
        c.prompts.get(pid)
        clock[0] = 5.0  # stale from now on; refreshes keep it stale (clock frozen)
        results.append(("get: stale (SWR)", _time(lambda: c.prompts.get(pid), n)))
    print(f"SDK prompts.get / render latency, n={n} per path, loopback")
    print(f"{'path':<22}{'p50':>13}{'p99':>13}")
    for name, (p50, p99) in results:
        print(f"{name:<22}{_fmt(p50):>13}{_fmt(p99):>13}")


if __name__ == "__main__":
    main()
