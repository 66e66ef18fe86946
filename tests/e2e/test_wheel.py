"""Packaging proof: the wheel holds ``dakora.*`` only, installs, and its ``dakora`` works.

Built once per module from a copy of the sources (so a concurrent build in the working
tree cannot interfere), without build isolation (offline: setuptools and wheel come
from the dev venv).

Installing into a *fresh* venv fast and offline: the venv is created ``--without-pip``
and the dev venv's pip installs the wheel into it (``pip --python``) with
``--no-deps``. The dependencies are then made importable by a ``.pth`` file naming the
dev venv's site-packages. That directory is appended *after* the fresh venv's own
site-packages, and a plain path line in a ``.pth`` does not run the ``.pth`` hooks
inside it, so the dev venv's editable ``dakora`` finder is never installed: imports of
``dakora`` resolve to the wheel's files (asserted below), everything else (typer,
dulwich, …) to the already-installed dependencies. No network, a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEV_PYTHON = ROOT / ".venv" / "bin" / "python"
SAMPLE = ROOT / "sample-repo"
# Source folder → import package (docs/design.md §1).
PACKAGE_DIRS = {
    "registry": "dakora/registry",
    "hooks": "dakora/hooks",
    "api": "dakora/api",
    "cli": "dakora/cli",
    "client": "dakora/client",
}


def _run(cmd: list[str | Path], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        **kw,  # type: ignore[arg-type]
    )


STUDIO_DIST = ROOT / "studio" / "dist"
PACKAGED_STUDIO = "dakora/api/studio_dist"
FAKE_STUDIO = {
    "index.html": "<!doctype html><title>Studio</title>\n",
    "assets/app-abc123.js": "console.log('studio');\n",
}


def _studio_files(dist: Path) -> list[str]:
    return sorted(
        p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()
    )


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".venv", ".git", "build", "dist", "*.egg-info"
    )
    for name in ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    for folder in (*PACKAGE_DIRS, "alembic"):
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    # The built Studio: the real one after `make studio`, else a tiny stand-in, so
    # the build hook that ships it (setup.py) is always exercised.
    if (STUDIO_DIST / "index.html").is_file():
        shutil.copytree(STUDIO_DIST, dest / "studio" / "dist")
    else:
        for rel, text in FAKE_STUDIO.items():
            (dest / "studio" / "dist" / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / "studio" / "dist" / rel).write_text(text)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("wheel-src")
    out = tmp_path_factory.mktemp("wheel-out")
    _copy_sources(src)
    proc = _run(
        [DEV_PYTHON, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, src]
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("dakora-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    proc = _run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert proc.returncode == 0, proc.stderr
    py = venv / "bin" / "python"
    proc = _run(
        [DEV_PYTHON, "-m", "pip", "--python", py, "install", "-q", "--no-deps", wheel]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fresh_site = _run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    dev_site = _run(
        [DEV_PYTHON, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    assert fresh_site and dev_site and fresh_site != dev_site
    (Path(fresh_site) / "_dakora_test_deps.pth").write_text(dev_site + "\n")
    return venv


def test_wheel_holds_only_dakora_packages(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {n.split("/")[0] for n in names}
    assert top_levels <= {"dakora"} | {
        n for n in top_levels if n.endswith(".dist-info")
    }
    for generic in ("api", "cli", "registry", "hooks", "client", "tests", "alembic"):
        assert generic not in top_levels, f"generic top-level package {generic!r}"
    for pkg in PACKAGE_DIRS.values():
        assert f"{pkg}/__init__.py" in names, f"{pkg} missing from the wheel"
    # Every sub-package in the source tree ships (a new folder needs a line in
    # [tool.setuptools] packages of pyproject.toml).
    missing = []
    for folder, pkg in PACKAGE_DIRS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.relative_to(ROOT / folder).as_posix()
            if f"{pkg}/{rel}" not in names:
                missing.append(f"{pkg}/{rel}")
    assert not missing, f"sub-packages missing from the wheel: {missing}"
    # The Alembic scripts ship as dakora.migrations (the server migrates on start).
    migrations = [
        "dakora/migrations/" + p.relative_to(ROOT / "alembic").as_posix()
        for p in (ROOT / "alembic").rglob("*")
        if p.is_file() and p.suffix in (".py", ".mako") and "__pycache__" not in p.parts
    ]
    assert migrations, "no alembic scripts found"
    assert not [m for m in migrations if m not in names], "alembic files missing"
    # The Studio build ships inside the package (setup.py's build hook).
    expected = (
        _studio_files(STUDIO_DIST)
        if (STUDIO_DIST / "index.html").is_file()
        else sorted(FAKE_STUDIO)
    )
    shipped = sorted(
        n.removeprefix(PACKAGED_STUDIO + "/")
        for n in names
        if n.startswith(PACKAGED_STUDIO + "/")
    )
    assert shipped == expected, "the wheel does not ship the Studio build"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "dakora = dakora.cli.main:run" in text


def test_installed_dakora_help_and_render(fresh_venv: Path, tmp_path: Path) -> None:
    py = fresh_venv / "bin" / "python"
    exe = fresh_venv / "bin" / "dakora"
    assert exe.exists()
    # The package comes from the wheel, not from the source tree.
    where = _run(
        [py, "-c", "import dakora.cli, dakora.registry; print(dakora.cli.__file__)"],
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(fresh_venv)), where.stdout
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    # The installed package finds its own copy of the Studio (no DAKORA_STUDIO_DIR).
    found = _run(
        [
            py,
            "-c",
            "from dakora.api.studio import find_studio_dir; "
            "from dakora.registry.core import Settings; "
            "print(find_studio_dir(Settings()))",
        ],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")},
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip().startswith(str(fresh_venv)), found.stdout
    assert found.stdout.strip().endswith(PACKAGED_STUDIO), found.stdout

    proc = _run([exe, "--help"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    for command in ("init", "lint", "render", "history", "diff"):
        assert command in proc.stdout

    repo = tmp_path / "prompts"
    shutil.copytree(SAMPLE, repo)
    for cmd in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "sample prompts"],
    ):
        assert _run(["git", *cmd], cwd=repo).returncode == 0
    proc = _run(
        [exe, "render", "summarize", "--repo", repo, "-i", "text=Wheels work."],
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Wheels work." in proc.stdout
    assert "Use 3 sentences or fewer." in proc.stdout
    assert "Traceback" not in proc.stderr
