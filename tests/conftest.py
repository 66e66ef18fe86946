"""Shared test setup: a hermetic environment, and the fixture plugins.

Real services (PostgreSQL, Azurite, a server process) are started once per session by
the fixtures in ``tests/fixtures/`` when a test asks for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.gitrepos",
    "tests.fixtures.postgres",
    "tests.fixtures.azurite",
    "tests.fixtures.server",
]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_REPO = ROOT / "sample-repo"


# Settings of the test machine itself, not of Dakora: kept through the scrub.
KEPT = ("DAKORA_CHROMIUM",)


def _scrub_environment() -> None:
    for key in list(os.environ):
        if key.startswith(("GIT_", "DAKORA_")) and key not in KEPT:
            del os.environ[key]
    os.environ.update(
        {
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Test Author",
            "GIT_COMMITTER_EMAIL": "author@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "NO_COLOR": "1",
        }
    )


_scrub_environment()


@pytest.fixture(autouse=True)
def _git_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A HOME with a minimal .gitconfig so tests never read the developer's."""
    home = tmp_path_factory.getbasetemp() / "home"
    if not home.exists():
        home.mkdir()
        (home / ".gitconfig").write_text(
            "[init]\n\tdefaultBranch = main\n[user]\n\tname = Test Author\n"
            "\temail = author@example.com\n[protocol]\n\tversion = 2\n"
        )
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield
    if old is not None:
        os.environ["HOME"] = old


@pytest.fixture
def sample_repo_path() -> Path:
    return SAMPLE_REPO
