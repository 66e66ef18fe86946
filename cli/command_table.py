"""The table of ``dakora`` commands and the root help text, without Typer.

``dakora --help`` is drawn from this module alone (``root_help``): ``main.run`` prints
it before Typer, Click or any command module is imported, so the root help starts in
the time of a bare Rich import. ``cli/commands.py`` builds the real Typer group from
the same table; ``tests/unit/test_cli_commands.py`` checks that every row matches the
command its module defines (same one-line help, same panel) and that ``ROOT_HELP`` and
``ROOT_OPTIONS`` match the root group, so neither can drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MARKUP: Final = "markdown"  # Final: its type is Literal["markdown"], as Typer asks

LOCAL = "Prompt repository"
SERVER = "Server"
CONTAINERS = "Containers"
REMOTE = "Remote registry"
ABOUT = "About"


@dataclass(frozen=True)
class Spec:
    """Where a top-level command lives and how ``dakora --help`` lists it."""

    module: str  # defines ``app`` (see ``command_app``) holding the command
    panel: str
    help: str  # the first paragraph of the command's help, as --help shows it


# Listed in this order: the local commands first.
COMMANDS: dict[str, Spec] = {
    "init": Spec(
        "dakora.cli.local_init",
        LOCAL,
        "Create a prompt repository: git init, dakora.yaml, an example prompt and "
        "part.",
    ),
    "lint": Spec(
        "dakora.cli.local_lint",
        LOCAL,
        "Check prompts: the working tree (and version rules against HEAD) or a ref.",
    ),
    "render": Spec(
        "dakora.cli.local_render",
        LOCAL,
        "Render a prompt and print exactly the result.",
    ),
    "history": Spec(
        "dakora.cli.local_history",
        LOCAL,
        "Every version of a prompt, newest first: version, commit, date, author, "
        "message.",
    ),
    "diff": Spec(
        "dakora.cli.local_history",
        LOCAL,
        "Unified diff of a prompt file between two versions or refs.",
    ),
    "review": Spec(
        "dakora.cli.review",
        LOCAL,
        "Review prompt changes between two revisions (a PR): versions, input "
        "compatibility, rendered before/after, parts, lint.",
    ),
    "mcp": Spec(
        "dakora.cli.mcp",
        LOCAL,
        "Serve a local prompt repository to MCP clients (editors, desktop agents) "
        "over stdio.",
    ),
    "promote": Spec(
        "dakora.cli.promote",
        LOCAL,
        "Promote prompts (and the parts they include) from one ref onto a branch, as "
        "one checked commit.",
    ),
    "serve": Spec(
        "dakora.cli.server",
        SERVER,
        "Run the registry server (migrates the database on start).",
    ),
    "db": Spec(
        "dakora.cli.admin",
        SERVER,
        "The server's database: run its migrations.",
    ),
    "admin": Spec(
        "dakora.cli.admin",
        SERVER,
        "Workspaces, projects and API keys, straight in the database.",
    ),
    "mirror": Spec(
        "dakora.cli.mirror",
        SERVER,
        "The blob-storage mirror of every project (local folder or Azure Blob).",
    ),
    "restore": Spec(
        "dakora.cli.mirror",
        SERVER,
        "Rebuild a project's bare repository from the mirror, then reindex it.",
    ),
    "reindex": Spec(
        "dakora.cli.git_cmds",
        SERVER,
        "Rebuild the prompt index (versions, heads, refs) from the repositories.",
    ),
    "hook": Spec(
        "dakora.cli.git_cmds",
        SERVER,
        "Entry points for git hooks of external git servers (plain git, Gitea, "
        "GitLab).",
    ),
    "start": Spec(
        "dakora.cli.deploy",
        CONTAINERS,
        "Start the api, PostgreSQL and Azurite containers (docker compose up -d).",
    ),
    "stop": Spec(
        "dakora.cli.deploy",
        CONTAINERS,
        "Stop the containers (docker compose down); volumes are kept.",
    ),
    "link": Spec(
        "dakora.cli.link",
        REMOTE,
        "Save a server URL, API key and project for remote commands (`--remote`) and "
        "the SDK, in `~/.config/dakora/link.json` (readable by you only).",
    ),
    "version": Spec(
        "dakora.cli.version",
        ABOUT,
        "Print Dakora's version (with --json also Python, git and dulwich).",
    ),
}

# The root group's help and options as ``dakora --help`` lists them:
# (long flags, short flags, help). ``cli/app.py`` defines the real ones from these.
ROOT_HELP = (
    "Dakora: a git-backed prompt registry. Prompts are YAML in git; every write is "
    "checked."
)
VERSION_HELP = "Print the version and exit."
ROOT_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--version", "", VERSION_HELP),
    ("--help", "-h", "Show this message and exit."),
)
ROOT_USAGE = "[OPTIONS] COMMAND [ARGS]..."
