"""``dakora init``: a new prompt repository (``dakora.yaml``, a first prompt and part)
in a new or empty folder, or inside an existing git repository.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from dakora.cli.commands import command_app
from dakora.cli.local_repo import git_or_fail, run_git
from dakora.cli.output import cli_errors, make_console
from dakora.registry.core import BadRequest, ConfigError

app = command_app()

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    pass


INIT_CONFIG = """\
# Dakora repository configuration (all keys optional).
# default_branch: the branch runtime fetch serves; it cannot be deleted or force-pushed.
# protected_refs: more branches or tags that cannot be deleted or force-pushed.
default_branch: main
protected_refs: [production]
"""

INIT_PROMPT = """\
id: hello
version: "0.1.0"
description: A friendly greeting. Edit it, or copy it to start a new prompt.
template: |
  {% include "style/friendly" %}
  Write a short greeting for {{ name }}{% if topic %} that mentions {{ topic }}{% endif %}.
inputs:
  name: {type: string, description: Who to greet}
  topic: {type: string, required: false, description: Something to mention}
model: {provider: openai, name: gpt-4o-mini, temperature: 0.7}
examples:
  - {name: Ada}
  - {name: Grace, topic: compilers}
"""

INIT_PART = """\
You are friendly and brief. Plain words, no exclamation marks.
"""

INIT_FILES: dict[str, str] = {
    "dakora.yaml": INIT_CONFIG,
    "prompts/hello.yaml": INIT_PROMPT,
    "parts/style/friendly.md": INIT_PART,
}


def _existing_prompt_repo(directory: Path) -> str | None:
    """Why ``directory`` already is a prompt repository, or None."""
    if (directory / "dakora.yaml").exists():
        return "dakora.yaml exists"
    for sub in ("prompts", "parts"):
        folder = directory / sub
        if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
            return f"{sub}/ is not empty"
    return None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@app.command()
def init(
    directory: Annotated[
        Path,
        typer.Argument(help="Folder for the new prompt repository.", show_default="."),
    ] = Path("."),
) -> None:
    """Create a prompt repository: git init, dakora.yaml, an example prompt and part.

    Makes a first commit. Inside an existing git repository it adds the files there;
    it refuses a folder that already holds a prompt repository.
    """
    with cli_errors():
        _init(directory)


def _init(directory: Path) -> None:
    if shutil.which("git") is None:
        raise ConfigError("git is not installed (dakora init runs `git init`)")
    directory = directory.expanduser().absolute()
    if directory.exists() and not directory.is_dir():
        raise BadRequest(f"{directory} exists and is not a folder")
    reason = _existing_prompt_repo(directory) if directory.exists() else None
    if reason:
        raise ConfigError(
            f"{directory} is already a Dakora prompt repository ({reason}); "
            "nothing was changed. Run `dakora lint` there, or pick an empty folder."
        )
    anchor = _nearest_existing(directory)
    inside = run_git(["rev-parse", "--show-toplevel"], anchor)
    in_repo = inside.returncode == 0
    # Refuse before writing anything when git cannot commit (no identity).
    for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        proc = run_git(["var", var], anchor)
        if proc.returncode != 0:
            raise ConfigError(
                "git does not know who you are; set it with "
                '`git config --global user.name "Your Name"` and '
                "`git config --global user.email you@example.com`"
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for rel, text in INIT_FILES.items():
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write to {directory}: {exc.strerror or exc}"
        ) from exc
    if not in_repo:
        git_or_fail(["init", "-q", "-b", "main"], directory, "git init")
    paths = list(INIT_FILES)
    git_or_fail(["add", "--", *paths], directory, "git add")
    git_or_fail(
        ["commit", "-q", "-m", "Start a Dakora prompt repository", "--", *paths],
        directory,
        "git commit",
    )
    console = make_console()
    where = "the existing git repository" if in_repo else "a new git repository"
    console.print(
        f"Created a Dakora prompt repository in {escape(str(directory))} ({where})."
    )
    shown = shlex.quote(_shown_path(directory))
    repo_flag = "" if shown == "." else f" --repo {shown}"
    lint_arg = "" if shown == "." else f" {shown}"
    console.print("Next:")
    console.print(f"  dakora lint{escape(lint_arg)}")
    console.print(f"  dakora render hello{escape(repo_flag)} -i name=Ada")


def _shown_path(directory: Path) -> str:
    try:
        rel = directory.relative_to(Path.cwd())
    except ValueError:
        return str(directory)
    return str(rel) or "."
