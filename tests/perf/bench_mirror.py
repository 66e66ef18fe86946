"""Mirror benchmarks (not collected by pytest): run ``.venv/bin/python -m
tests.perf.bench_mirror [--prompts 1000] [--pushes 15] [--backend azure|local]``.

Starts Azurite (from ``.tools/``, as the tests do) unless ``--backend local``, and a
real ``dakora serve`` (SQLite) with that mirror backend, then measures:

1. mirror lag after a push: time from ``git push`` returning to the refs manifest in
   the mirror naming the pushed commit (median and max over N one-prompt pushes);
2. bytes uploaded for a one-prompt change in an N-prompt repository, against the size
   of the repository (its packs) and of the whole mirror;
3. time to restore the N-prompt repository from the mirror: ``restore_project``
   alone, and ``dakora restore --force`` (download + reindex) end to end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from dakora.registry.mirror import restore_project as restore
from dakora.registry.mirror.backends import BlobStore, LocalFolderStore
from dakora.registry.mirror.sync import read_manifest
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.fixtures.server import LiveServer, _server_env

WS, SLUG = "bench", "mirror"
PREFIX = f"{WS}/{SLUG}/"
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
]


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr}")
    return out.stdout.strip()


def template(rng: random.Random) -> str:
    body = " ".join(
        rng.choice(WORDS) if i % 2 else f"{rng.getrandbits(32):08x}" for i in range(80)
    )
    return f"{body} {{{{ name }}}}\n"


def pack_size(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / "objects").rglob("*") if p.is_file())


def mirror_size(store: Any, prefix: str) -> int:
    container = getattr(store, "container", None)
    if container is not None:
        return sum(b.size for b in container.list_blobs(name_starts_with=prefix))
    root = Path(store.root) / prefix
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def wait_for(store: BlobStore, ref: str, sha: str, timeout: float = 60.0) -> float:
    started = time.monotonic()
    while True:
        manifest, _ = read_manifest(store, PREFIX)
        if manifest.refs.get(ref) == sha:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError("the mirror did not catch up")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=15)
    parser.add_argument("--backend", choices=["azure", "local"], default="azure")
    args = parser.parse_args()
    for var in ("GIT_AUTHOR", "GIT_COMMITTER"):
        os.environ.setdefault(f"{var}_NAME", "Bench")
        os.environ.setdefault(f"{var}_EMAIL", "bench@example.com")
    base = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    azurite = None
    try:
        env: dict[str, str] = {"DAKORA_MIRROR_BACKEND": args.backend}
        if args.backend == "azure":
            from azure.storage.blob import ContainerClient

            from dakora.registry.mirror.azure_store import API_VERSION, AzureBlobStore
            from tests.fixtures.azurite import Azurite

            (base / "azurite").mkdir()
            azurite = Azurite(base / "azurite")
            azurite.start()
            env["DAKORA_AZURE_CONNECTION_STRING"] = azurite.connection_string
            env["DAKORA_AZURE_CONTAINER"] = "bench"
            store: Any = AzureBlobStore(
                ContainerClient.from_connection_string(
                    azurite.connection_string, "bench", api_version=API_VERSION
                )
            )
        data = base / "data"
        data.mkdir()
        url = f"sqlite:///{data / 'dakora.db'}"
        server = LiveServer(data, url, _server_env(data, url, env)).start()
        if args.backend == "local":
            store = LocalFolderStore(data / "mirror")
        try:
            run(server, store, base, args)
        finally:
            server.close()
    finally:
        if azurite is not None:
            azurite.stop()
        shutil.rmtree(base, ignore_errors=True)


def run(server: LiveServer, store: Any, base: Path, args: Any) -> None:
    project = server.create_project(WS, SLUG)
    repo_path = Path(project["repo_path"])
    key = server.create_key(f"{WS}/{SLUG}", "write")["key"]
    remote = f"http://git:{key}@{server.host}:{server.port}/git/{WS}/{SLUG}.git"
    work = GitRepoBuilder.init(base / "work")
    rng = random.Random(1)
    work.write_many(
        {
            f"prompts/p{i:05d}.yaml": make_prompt_yaml(
                id=f"p{i:05d}", template=template(rng)
            )
            for i in range(args.prompts)
        }
    )
    work.commit("many prompts")
    git(work.path, "push", "-q", remote, "HEAD:main")
    wait_for(store, "refs/heads/main", work.head())

    lags: list[float] = []
    uploads: list[int] = []
    for n in range(args.pushes):
        work.write(
            "prompts/p00000.yaml",
            make_prompt_yaml(
                id="p00000", version=f"1.{n + 1}.0", template=template(rng)
            ),
        )
        work.commit(f"change {n}")
        before = mirror_size(store, PREFIX)
        git(work.path, "push", "-q", remote, "HEAD:main")
        lags.append(wait_for(store, "refs/heads/main", work.head()))
        uploads.append(mirror_size(store, PREFIX) - before)
    repo_bytes = pack_size(repo_path)
    print(f"backend: {args.backend}, prompts: {args.prompts}, pushes: {args.pushes}")
    print(
        f"mirror lag after a push: median {statistics.median(lags) * 1000:.0f} ms, "
        f"max {max(lags) * 1000:.0f} ms"
    )
    print(
        f"bytes uploaded for a one-prompt change: median "
        f"{statistics.median(uploads):,.0f} B (pack + idx + prompt copy + manifest "
        f"delta) vs repository {repo_bytes:,} B "
        f"({statistics.median(uploads) / repo_bytes:.2%}); whole mirror "
        f"{mirror_size(store, PREFIX):,} B"
    )

    started = time.monotonic()
    restore(store, PREFIX, base / "restored.git")
    only = time.monotonic() - started
    server.stop()
    started = time.monotonic()
    server.dakora("restore", f"{WS}/{SLUG}", "--force")
    full = time.monotonic() - started
    print(
        f"restore of the {args.prompts}-prompt repository: restore_project "
        f"{only * 1000:.0f} ms; `dakora restore --force` (download + reindex, "
        f"process start included) {full:.2f} s"
    )


if __name__ == "__main__":
    main()
