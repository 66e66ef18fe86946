"""Render throughput: our Renderer vs raw Jinja2 sandbox rendering, in the same run.

    .venv/bin/python tests/perf/bench_render.py [--n 2000] [--repo sample-repo]

Every prompt of the sample repository is rendered with each of its examples, ``--n``
times, by (a) ``dakora.registry.render.renderer.Renderer`` with a warm compile cache (inputs
coerced once, outside the timed loop: the renderer takes coerced inputs) and (b) a bare
``jinja2.sandbox.SandboxedEnvironment`` with the same settings (StrictUndefined,
keep_trailing_newline), equivalent ``yaml``/``default`` filters, the parts in a
``DictLoader`` (auto_reload off), and every template pre-compiled. Prints both throughputs and the ratio
ours/raw (target ≥ 0.8). Rounds alternate between the two so machine noise hits both.

Not a test (pytest does not collect ``bench_*.py``); nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dakora.registry.core.inputs import coerce_inputs
from dakora.registry.git.folder_snapshot import FolderSnapshot
from dakora.registry.render.renderer import Renderer

ROOT = Path(__file__).resolve().parents[2]


_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yaml_filter(value: Any) -> str:
    # Same work as ours: the C dumper, insertion order, no final newline.
    text: str = yaml.dump(value, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text[:-1] if text.endswith("\n") else text


def _default_filter(value: Any, fallback: Any = "") -> Any:
    if value is None or value == "" or value == [] or value == {}:
        return fallback
    return value


def _cases(snapshot: FolderSnapshot) -> list[tuple[Any, dict[str, Any], str | None]]:
    """(loaded prompt, coerced inputs, blob sha) for every example of every prompt."""
    cases = []
    for loaded in snapshot.prompts():
        for example in loaded.prompt.examples:
            inputs = coerce_inputs(loaded.prompt.inputs, example, source="json")
            cases.append((loaded, inputs, loaded.blob_sha))
    return cases


def _raw_env(snapshot: FolderSnapshot) -> SandboxedEnvironment:
    parts = {}
    for name in snapshot.parts.names():
        found = snapshot.parts.get_source(name)
        assert found is not None
        parts[name] = found[0]
    env = SandboxedEnvironment(
        loader=DictLoader(parts),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        auto_reload=False,  # pre-compiled includes: no up-to-date check per render
    )
    env.filters["yaml"] = _yaml_filter
    env.filters["default"] = _default_filter
    env.filters["d"] = _default_filter
    return env


def _time(fn: Callable[[], None], n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="passes over all examples")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--repo", type=Path, default=ROOT / "sample-repo")
    args = parser.parse_args()

    snapshot = FolderSnapshot(args.repo)
    cases = _cases(snapshot)
    renderer = Renderer()
    parts = snapshot.parts

    env = _raw_env(snapshot)
    compiled = [
        (
            [env.from_string(src) for _, src in loaded.prompt.sources()],
            inputs,
        )
        for loaded, inputs, _ in cases
    ]

    def ours() -> None:
        for loaded, inputs, sha in cases:
            renderer.render(loaded.prompt, inputs, parts, cache_key=sha)

    def raw() -> None:
        for templates, inputs in compiled:
            for t in templates:
                t.render(inputs)

    # Warm up both (compile caches, include caches) and check they agree.
    for (loaded, inputs, sha), (templates, _) in zip(cases, compiled, strict=True):
        ours_out = renderer.render(loaded.prompt, inputs, parts, cache_key=sha)
        raw_out = [t.render(inputs) for t in templates]
        got = (
            [m["content"] for m in ours_out.messages or []]
            if ours_out.kind == "chat"
            else [ours_out.rendered]
        )
        if got != raw_out:
            print(f"warning: {loaded.prompt.id}: our output differs from raw Jinja2")

    per_round = max(1, args.n // args.rounds)
    t_ours = t_raw = 0.0
    for _ in range(args.rounds):
        t_ours += _time(ours, per_round)
        t_raw += _time(raw, per_round)
    renders = per_round * args.rounds * len(cases)
    ours_rps = renders / t_ours
    raw_rps = renders / t_raw
    ratio = ours_rps / raw_rps
    print(f"prompts: {len({c[0].prompt.id for c in cases})}, examples: {len(cases)}")
    print(f"renders per side: {renders}")
    print(f"ours (Renderer, warm cache): {ours_rps:,.0f} renders/s "
          f"({1e6 / ours_rps:.1f} µs each)")  # fmt: skip
    print(f"raw (SandboxedEnvironment):  {raw_rps:,.0f} renders/s "
          f"({1e6 / raw_rps:.1f} µs each)")  # fmt: skip
    verdict = "ok" if ratio >= 0.8 else "BELOW TARGET"
    print(f"ratio ours/raw: {ratio:.2f} (target >= 0.80: {verdict})")


if __name__ == "__main__":
    main()
