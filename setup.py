"""Build hook: a wheel built after the Studio build ships the Studio.

Everything else about the package is in pyproject.toml. ``build_py`` here also copies
``studio/dist`` (the output of ``make studio``) into the built package as
``dakora/api/studio_dist/``, where ``dakora serve`` finds it (``dakora.api.studio``).
Without a build (no ``studio/dist/index.html``) the wheel simply has no Studio, and
``/studio/`` says how to build it. Editable installs copy nothing: they serve
``studio/dist`` of the source tree directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
STUDIO_DIST = ROOT / "studio" / "dist"
PACKAGED = Path("dakora") / "api" / "studio_dist"


class BuildPyWithStudio(build_py):
    """``build_py`` plus the built Studio as package data."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not (STUDIO_DIST / "index.html").is_file():
            return
        target = Path(self.build_lib) / PACKAGED
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(STUDIO_DIST, target, symlinks=False)
        self.announce(f"copied {STUDIO_DIST} to {target}", level=2)


setup(cmdclass={"build_py": BuildPyWithStudio})
