"""Render isolation: warm render latency, and the server's latency under hostile renders.

    .venv/bin/python tests/perf/bench_render_limits.py [--n 400] [--probes 200]

Starts ``dakora serve`` (SQLite, temporary data dir) with two projects: ``bench/victim``
(``sample-repo/``) and ``bench/hostile`` (templates that loop, recurse and include far
beyond any budget, issue 10 finding 1). Then, in one run:

1. **warm render**: ``--n`` sequential ``POST …/render`` of ``support-reply`` on one
   keep-alive connection (after a warm-up): p50 and p99; and, as the in-run baseline, the
   same number of warm ``GET …/prompts/support-reply`` (no render): the ratio
   render/GET says what a render costs on top of a request.
2. **under hostile load**: four hostile renders in flight at all times (re-sent as each
   one ends), while one probe connection alternates ``GET /api/health`` and the victim
   project's warm ``GET`` (``--probes`` of each, 10 ms apart): p50/p99/max of each, and
   how the hostile renders ended (status, error code, seconds).

Targets (issue 10): health and warm GET p99 <= 50 ms under hostile load; every hostile
render ends with 422 ``render_limit`` within the time budget (+ a margin). The warm
render p50 is compared with the figure measured before the render pool (the report).
Not a test (pytest does not collect ``bench_*.py``); nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]

HOSTILE: dict[str, tuple[str, dict[str, Any]]] = {
    # name: (template, inputs)
    "string-loops": (
        "{% set s = 'x' * 20000 %}{% for a in s %}{% for b in s %}{% endfor %}"
        "{% endfor %}",
        {},
    ),
    "macro-calls": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
        "{% endmacro %}{{ f(24) }}",
        {},
    ),
    "include-fanout": (
        '{% for i in range(10000) %}{% include "h/l1" %}{% endfor %}',
        {},
    ),
    "input-loops": (
        "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        {"s": "y" * 20000},
    ),
}


def _write_hostile_repo(folder: Path) -> None:
    (folder / "prompts").mkdir(parents=True)
    (folder / "parts" / "h").mkdir(parents=True)
    (folder / "dakora.yaml").write_text("default_branch: main\n")
    for level in range(1, 5):
        body = (
            "leaf"
            if level == 4
            else "".join(f'{{% include "h/l{level + 1}" %}}' for _ in range(8))
        )
        (folder / "parts" / "h" / f"l{level}.txt").write_text(body)
    for name, (template, inputs) in HOSTILE.items():
        declared = "".join(f"  {k}: {{type: string, required: true}}\n" for k in inputs)
        text = f"id: {name}\nversion: 1.0.0\ntemplate: {json.dumps(template)}\n" + (
            f"inputs:\n{declared}" if declared else ""
        )
        (folder / "prompts" / f"{name}.yaml").write_text(text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _setup(data_dir: Path, hostile_repo: Path) -> dict[str, str]:
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
    out: dict[str, str] = {}
    for slug, source in (("victim", ROOT / "sample-repo"), ("hostile", hostile_repo)):
        project = tenancy.create_project(engine, settings, "bench", slug)
        import_into_project(engine, project, source)
        key = keys.create_key(engine, settings.pepper(), project.id, scope="read")
        out[slug] = project.id
        out[slug + "_key"] = key.plaintext
    engine.dispose()
    return out


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000


def _stats(values: list[float]) -> str:
    return (
        f"p50 {_pct(values, 0.5):7.2f} ms   p99 {_pct(values, 0.99):7.2f} ms   "
        f"max {max(values) * 1000:7.2f} ms   (n={len(values)})"
    )


def _timed(client: httpx.Client, method: str, url: str, **kw: Any) -> float:
    start = time.perf_counter()
    try:
        r = client.request(method, url, **kw)
    except httpx.TimeoutException:
        return time.perf_counter() - start  # counted at the time it waited
    elapsed = time.perf_counter() - start
    if r.status_code != 200:
        raise SystemExit(f"{method} {url}: {r.status_code} {r.text[:300]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="sequential warm renders")
    parser.add_argument("--probes", type=int, default=200, help="probes under load")
    parser.add_argument(
        "--no-hostile", action="store_true", help="only the warm render (part 1)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dakora-bench-limits-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        hostile_repo = tmp / "hostile-repo"
        _write_hostile_repo(hostile_repo)
        git = ["git", "-C", str(hostile_repo), "-c", "user.name=bench"]
        git += ["-c", "user.email=bench@example.com"]
        subprocess.run(
            ["git", "init", "-q", "-b", "main", str(hostile_repo)], check=True
        )
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "hostile"], check=True)
        ids = _setup(tmp / "data", hostile_repo)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dakora"),
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp / "data"),
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(base + "/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        victim = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {ids['victim_key']}"},
            timeout=120,
        )
        get_path = f"/api/projects/{ids['victim']}/prompts/support-reply"
        body = {"inputs": {"customer": "Ada", "ticket": "Charged twice"}}

        # 1. warm render vs warm GET, sequential, alternating.
        for _ in range(50):
            _timed(victim, "POST", get_path + "/render", json=body)
            _timed(victim, "GET", get_path)
        renders: list[float] = []
        gets: list[float] = []
        for _ in range(args.n):
            renders.append(_timed(victim, "POST", get_path + "/render", json=body))
            gets.append(_timed(victim, "GET", get_path))
        print("sequential, one keep-alive connection (httpx):")
        print(f"  warm POST render   {_stats(renders)}")
        print(f"  warm GET prompt    {_stats(gets)}")
        print(f"  render p50 / GET p50: {_pct(renders, 0.5) / _pct(gets, 0.5):.2f}")

        if args.no_hostile:
            return 0
        # 2. probes while four hostile renders run.
        stop = threading.Event()
        outcomes: list[tuple[str, int, str, float]] = []

        def attack(name: str) -> None:
            template, inputs = HOSTILE[name]
            hostile = httpx.Client(
                base_url=base,
                headers={"Authorization": f"Bearer {ids['hostile_key']}"},
                timeout=300,
            )
            path = f"/api/projects/{ids['hostile']}/prompts/{name}/render"
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    r = hostile.post(path, json={"inputs": inputs})
                    code = (
                        r.json().get("error", {}).get("code", "") if r.content else ""
                    )
                    status = r.status_code
                except httpx.HTTPError as exc:
                    status, code = 0, type(exc).__name__
                outcomes.append((name, status, code, time.perf_counter() - start))

        threads = [
            threading.Thread(target=attack, args=(n,), daemon=True) for n in HOSTILE
        ]
        for t in threads:
            t.start()
        time.sleep(0.5)  # let all four be in flight
        health: list[float] = []
        warm: list[float] = []
        probe = httpx.Client(base_url=base, timeout=20)
        started = time.perf_counter()
        for _ in range(args.probes):
            health.append(_timed(probe, "GET", "/api/health"))
            time.sleep(0.01)
            warm.append(_timed(probe, "GET", get_path, headers=victim.headers))
            time.sleep(0.01)
        probing = time.perf_counter() - started
        stop.set()
        for t in threads:
            t.join(timeout=30)  # a render still running now is counted as a hang
        hung = sum(t.is_alive() for t in threads)
        print(f"under four hostile renders ({probing:.1f} s of probes):")
        print(f"  GET /api/health    {_stats(health)}")
        print(f"  warm GET (victim)  {_stats(warm)}")
        ends: dict[tuple[str, int, str], list[float]] = {}
        for name, status, code, secs in outcomes:
            ends.setdefault((name, status, code), []).append(secs)
        print("hostile renders ended:")
        for (name, status, code), secs in sorted(ends.items()):
            print(
                f"  {name:<15} {status} {code:<14} x{len(secs):<3} "
                f"{min(secs):6.2f}-{max(secs):6.2f} s"
            )
        print(f"  still running 30 s after the probes ended: {hung}")
        p99 = max(_pct(health, 0.99), _pct(warm, 0.99))
        print(f"worst p99 under hostile load: {p99:.2f} ms (target <= 50 ms)")
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
