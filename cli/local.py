"""Local commands: ``init``, ``lint``, ``render``, ``history``, ``diff``.

They work on a prompt repository on disk: a git repo root, a folder inside one (prompts
kept in a subfolder of an application's repo) or, for ``lint`` and working-tree
``render``, a plain folder. Everything below is a thin edge over ``dakora.registry``:
open the repository, pick a snapshot (working tree, ref, version or commit), call the
registry, print. Errors are ``DakoraError`` subclasses; ``output.cli_errors`` prints
them without a traceback and exits 2 for bad input, 1 otherwise.

One module per command group (``local_init``, ``local_lint``, ``local_render``,
``local_history`` for history and diff) on shared helpers (``local_repo``); importing
this module registers them on ``main.app`` in that order. Names other modules and tests
import from here are re-exported.
"""

from __future__ import annotations

# Importing a command module registers its commands on ``main.app``: keep this order.
# isort: off
from dakora.cli import local_init  # noqa: F401
from dakora.cli import local_lint  # noqa: F401
from dakora.cli import local_render  # noqa: F401
from dakora.cli import local_history  # noqa: F401

# isort: on
from dakora.cli.local_history import diff, history
from dakora.cli.local_init import INIT_CONFIG, INIT_FILES, INIT_PART, INIT_PROMPT, init
from dakora.cli.local_lint import lint
from dakora.cli.local_render import (
    _coerce,
    _read_inputs_file,
    format_chat,
    render,
)
from dakora.cli.local_repo import (
    JsonOpt,
    RefOpt,
    RepoOpt,
    folder_snapshot,
    head_commit,
    version_lookup,
)

# The old private names, still imported by cli/review.py and the unit tests.
_head = head_commit
_version_lookup = version_lookup

__all__ = [
    "INIT_CONFIG",
    "INIT_FILES",
    "INIT_PART",
    "INIT_PROMPT",
    "JsonOpt",
    "RefOpt",
    "RepoOpt",
    "_coerce",
    "_read_inputs_file",
    "diff",
    "folder_snapshot",
    "format_chat",
    "history",
    "init",
    "lint",
    "render",
]
