"""Issue 10 findings 1, 2 and 10 (first bullet) through the real ``dakora serve``.

A tenant with a read key (or a write key for the templates) must not be able to slow,
break or fill the server for another: every hostile render ends with 422
``render_limit`` naming the limit (never a hang, never a 500), value bombs are refused
before they are built, ``/api/health`` and another project's warm GET keep answering
while four hostile renders run, and a method is never printed as a memory address.
Every request has a client timeout, so a regression is a red test, not a hung CI.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.gitrepos import GitRepoBuilder
from tests.fixtures.server import LiveServer, ServerFactory

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# name: (template, declared string inputs)
HOSTILE: dict[str, tuple[str, tuple[str, ...]]] = {
    "string-loops": (
        "{% set s = 'x' * 20000 %}{% for a in s %}{% for b in s %}{% endfor %}"
        "{% endfor %}",
        (),
    ),
    "include-fanout": (
        '{% for i in range(10000) %}{% include "h/l1" %}{% endfor %}',
        (),
    ),
    "macro-calls": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
        "{% endmacro %}{{ f(20) }}",
        (),
    ),
    "input-loops": ("{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}", ("s",)),
    "slow": (  # under every work limit, but seconds of string work
        "{% set s = 'x' * 1000000 %}{% for i in 'x' * 90000 %}"
        "{% if s in s ~ 'y' %}{% endif %}{% endfor %}",
        (),
    ),
    "bomb-percent": ("{{ '%*s' % (1000000000, '') }}", ()),
    "bomb-format": ("{{ '{:{w}}'.format('', w=1000000000) }}", ()),
    "bomb-bytes": ("{{ 'x'.encode() * 10**9 }}", ()),
    "bomb-translate": ("{{ ('a' * 10000).translate({97: 'x' * 100000}) }}", ()),
    "bomb-input": ("{{ s.ljust(1000000000) }}", ("s",)),
    "method": ("{{ ''.format_map }}", ()),
    "method-concat": ("{{ ''.upper ~ '' }}", ()),
}


def _prompt_yaml(name: str, template: str, inputs: tuple[str, ...]) -> str:
    text = f"id: {name}\nversion: 1.0.0\ntemplate: {json.dumps(template)}\n"
    if inputs:
        text += "inputs:\n" + "".join(
            f"  {k}: {{type: string, required: true}}\n" for k in inputs
        )
    return text


def _hostile_repo(path: Path) -> Path:
    repo = GitRepoBuilder.init(path)
    files: dict[str, str | bytes] = {"dakora.yaml": "default_branch: main\n"}
    for level in range(1, 5):
        files[f"parts/h/l{level}.txt"] = (
            "leaf" if level == 4 else f'{{% include "h/l{level + 1}" %}}' * 8
        )
    for name, (template, inputs) in HOSTILE.items():
        files[f"prompts/{name}.yaml"] = _prompt_yaml(name, template, inputs)
    repo.write_many(files)
    repo.commit("hostile prompts")
    return path


def _victim_repo(path: Path) -> Path:
    repo = GitRepoBuilder.init(path)
    files: dict[str, str | bytes] = {}
    for file in (ROOT / "sample-repo").rglob("*"):
        if file.is_file():
            files[str(file.relative_to(ROOT / "sample-repo"))] = file.read_text()
    repo.write_many(files)
    repo.commit("sample")
    return path


@dataclass
class Tenants:
    server: LiveServer
    hostile: str  # project id
    hostile_key: str
    victim: str
    victim_key: str

    def render(
        self, name: str, inputs: dict[str, Any] | None = None, timeout: float = 60
    ) -> httpx.Response:
        with self.server.client(self.hostile_key) as c:
            return c.post(
                f"/api/projects/{self.hostile}/prompts/{name}/render",
                json={"inputs": inputs or {}},
                timeout=timeout,
            )


@pytest.fixture(scope="module")
def tenants(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Tenants:
    base = tmp_path_factory.mktemp("tenants")
    hostile = live_server.create_project("evil", "p", _hostile_repo(base / "hostile"))
    victim = live_server.create_project("good", "p", _victim_repo(base / "victim"))
    return Tenants(
        live_server,
        hostile["id"],
        live_server.create_key(hostile["id"], "read")["key"],
        victim["id"],
        live_server.create_key(victim["id"], "read")["key"],
    )


def _limit(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "render_limit", error
    assert error["details"]["source"]  # the template or part where it stopped
    assert "Traceback" not in r.text
    return str(error["details"]["limit"])


# -- finding 1: time and work budget ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inputs", "limit"),
    [
        ("string-loops", {}, "loop_iterations"),
        ("include-fanout", {}, "includes"),
        ("macro-calls", {}, "macro_calls"),
        ("input-loops", {"s": "y" * 20000}, "loop_iterations"),
        ("slow", {}, "timeout_ms"),
    ],
)
def test_hostile_render_is_422_render_limit_never_a_hang(
    tenants: Tenants, name: str, inputs: dict[str, Any], limit: str
) -> None:
    r = tenants.render(name, inputs, timeout=30)  # main took 9 s to > 120 s
    assert _limit(r) == limit
    if limit == "timeout_ms":
        assert r.json()["error"]["details"]["max"] == 2000  # the default budget
        assert "DAKORA_RENDER_TIMEOUT_MS" in r.json()["error"]["message"]


def test_health_and_other_tenants_answer_while_four_hostile_renders_run(
    tenants: Tenants,
) -> None:
    """The strict p99 <= 50 ms figure is measured by tests/perf/bench_render_limits.py;
    here: every probe answers promptly while hostile renders are in flight (on main
    the event loop rendered them itself, and health waited for seconds)."""
    stop = threading.Event()
    in_flight = [0]
    lock = threading.Lock()
    ended: list[int] = []

    def attack(name: str) -> None:
        while not stop.is_set():
            with lock:
                in_flight[0] += 1
            try:
                ended.append(tenants.render(name, timeout=30).status_code)
            except httpx.HTTPError:
                ended.append(0)
            finally:
                with lock:
                    in_flight[0] -= 1

    names = ["string-loops", "include-fanout", "macro-calls", "slow"]
    threads = [threading.Thread(target=attack, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    latencies: list[float] = []
    busy_probes = 0
    get_path = f"/api/projects/{tenants.victim}/prompts/support-reply"
    try:
        time.sleep(0.3)
        with (
            tenants.server.client() as health,
            tenants.server.client(tenants.victim_key) as victim,
        ):
            victim.get(get_path).raise_for_status()  # warm
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                for client, path in ((health, "/api/health"), (victim, get_path)):
                    start = time.perf_counter()
                    r = client.get(path, timeout=5)
                    latencies.append(time.perf_counter() - start)
                    assert r.status_code == 200, r.text
                    with lock:
                        busy_probes += in_flight[0] > 0
                time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(40)
    assert not any(t.is_alive() for t in threads), "a hostile render hung"
    assert busy_probes >= len(latencies) * 0.9, "the renders were not in flight"
    latencies.sort()
    median = latencies[len(latencies) // 2]
    # generous (a shared 2-core CI box): on main each probe waited for a whole render
    assert latencies[-1] < 1.0, f"slowest probe {latencies[-1] * 1000:.0f} ms"
    assert median < 0.25, f"median probe {median * 1000:.0f} ms"
    assert ended and set(ended) == {422}, ended


# -- finding 2: memory -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("bomb-percent", {}),
        ("bomb-format", {}),
        ("bomb-translate", {}),
        ("bomb-input", {"s": "x"}),
    ],
)
def test_value_bomb_is_refused_before_it_is_built(
    tenants: Tenants, name: str, inputs: dict[str, Any]
) -> None:
    r = tenants.render(name, inputs, timeout=30)
    assert _limit(r) == "value_size"


def test_bytes_are_out_of_reach(tenants: Tenants) -> None:
    r = tenants.render("bomb-bytes", timeout=30)  # main: +1.9 GB
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "render_error"
    assert "encode" in r.json()["error"]["message"]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_server_memory_does_not_grow_with_value_bombs(tenants: Tenants) -> None:
    proc = tenants.server.process
    assert proc is not None
    before = _rss_kib(proc.pid)
    for name in ("bomb-percent", "bomb-format", "bomb-translate", "bomb-bytes"):
        tenants.render(name, timeout=30)
    grown = _rss_kib(proc.pid) - before
    assert grown < 64 * 1024, f"the server's peak RSS grew by {grown // 1024} MiB"


# -- finding 10, first bullet: methods are not printed --------------------------------


@pytest.mark.parametrize("name", ["method", "method-concat"])
def test_a_method_is_never_rendered_as_a_memory_address(
    tenants: Tenants, name: str
) -> None:
    r = tenants.render(name, timeout=30)  # main: 200 "<built-in method … at 0x…>"
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "render_error"
    assert "0x" not in r.text and "built-in" not in r.text
    assert "not a value" in r.json()["error"]["message"]


# -- the setting -----------------------------------------------------------------------


def test_render_timeout_setting_is_honoured(
    start_live_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_live_server(tmp_path, env={"DAKORA_RENDER_TIMEOUT_MS": "100"})
    project = server.create_project("evil", "p", _hostile_repo(tmp_path / "repo"))
    key = server.create_key(project["id"], "read")["key"]
    with server.client(key) as c:
        r = c.post(
            f"/api/projects/{project['id']}/prompts/slow/render", json={}, timeout=30
        )
    assert _limit(r) == "timeout_ms"
    assert r.json()["error"]["details"]["max"] == 100
    server.stop()


# -- the CLI ---------------------------------------------------------------------------


def test_dakora_render_runs_under_the_time_budget(tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.fixtures.server import dakora_executable

    repo = _hostile_repo(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
    env["DAKORA_RENDER_TIMEOUT_MS"] = "100"
    run = [dakora_executable(), "render", "--repo", str(repo), "--json"]
    slow = subprocess.run(
        [*run[:2], "slow", *run[2:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert slow.returncode == 1, (slow.stdout, slow.stderr)
    error = json.loads(slow.stderr)["error"]
    assert error["code"] == "render_limit"
    assert error["details"]["limit"] == "timeout_ms" and error["details"]["max"] == 100
    del env["DAKORA_RENDER_TIMEOUT_MS"]  # the default budget: the work limit first
    loops = subprocess.run(
        [*run[:2], "string-loops", *run[2:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(loops.stderr)["error"]["details"]["limit"] == "loop_iterations"
    env["DAKORA_RENDER_TIMEOUT_MS"] = "soon"
    bad = subprocess.run(
        [*run[:2], "slow", *run[2:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "DAKORA_RENDER_TIMEOUT_MS" in bad.stderr
    assert "Traceback" not in bad.stderr
