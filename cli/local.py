"""Local commands: ``init``, ``lint``, ``render``, ``history``, ``diff``.

They work on a prompt repository on disk: a git repo root, a folder inside one (prompts
kept in a subfolder of an application's repo) or, for ``lint`` and working-tree
``render``, a plain folder. Everything below is a thin edge over ``dakora.registry``:
open the repository, pick a snapshot (working tree, ref, version or commit), call the
registry, print. Errors are ``DakoraError`` subclasses; ``output.cli_errors`` prints
them without a traceback and exits 2 for bad input, 1 otherwise.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.markup import escape

from dakora.cli.main import app
from dakora.cli.output import (
    cli_errors,
    is_rich,
    make_console,
    note,
    print_diff,
    print_findings,
    print_json,
    print_table,
    write_text,
)
from dakora.registry.errors import (
    BadRequest,
    ConfigError,
    DakoraError,
    InputError,
    NotFound,
    PromptNotFound,
    RefNotFound,
    RepositoryNotFound,
)
from dakora.registry.findings import Finding
from dakora.registry.model import InputSpec

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    from dakora.registry.checks import VersionLookup
    from dakora.registry.gitrepo import PromptRepository
    from dakora.registry.loader import LoadedPrompt
    from dakora.registry.snapshot import Snapshot

# --------------------------------------------------------------------------- options

RepoOpt = Annotated[
    Path,
    typer.Option(
        "--repo",
        help="The prompt repository: a git repo root or a folder inside one.",
        show_default="current directory",
    ),
]
RefOpt = Annotated[
    str | None,
    typer.Option(
        "--ref", help="Branch, tag or commit to read instead of the working tree."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


# --------------------------------------------------------------------------- helpers


def _open_repo(path: Path) -> PromptRepository:
    """``PromptRepository.open`` with a clear message for a missing folder."""
    from dakora.registry.gitrepo import PromptRepository

    if not path.exists():
        raise NotFound(f"no such folder: {path}")
    if not path.is_dir():
        raise BadRequest(f"not a folder: {path}")
    return PromptRepository.open(str(path))


def _folder_snapshot(path: Path) -> Snapshot:
    from dakora.registry.snapshot import FolderSnapshot

    return FolderSnapshot(str(path))


def _head(repo: PromptRepository) -> str | None:
    """The HEAD commit, or None in a repository without commits yet."""
    try:
        return str(repo.resolve("HEAD"))
    except RefNotFound:
        return None


def _parent_commit(repo: PromptRepository, commit: str) -> str | None:
    """First parent of ``commit`` (None for a root commit)."""
    try:
        return str(repo.resolve(f"{commit}^"))
    except RefNotFound:
        return None


def _version_lookup(repo: PromptRepository) -> VersionLookup:
    """(prompt id, version) → blob sha on any branch or tag, for the immutability rule.

    Built on first use with one walk over every commit of every ref (tree diffs, each
    commit once: tips already walked are excluded), then dict lookups.
    """
    index: dict[tuple[str, str], str] | None = None

    def build() -> dict[tuple[str, str], str]:
        from dakora.registry.gitrepo import versions_in_range

        out: dict[tuple[str, str], str] = {}
        walked: list[str] = []
        for tip in dict.fromkeys(repo.refs().values()):
            for info in versions_in_range(repo.store, tip, walked, repo.subdir):
                out.setdefault((info.prompt_id, info.version), info.blob_sha)
            walked.append(tip)
        return out

    def lookup(prompt_id: str, version: str) -> str | None:
        nonlocal index
        if index is None:
            index = build()
        return index.get((prompt_id, version))

    return lookup


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _git_or_fail(args: list[str], cwd: Path, what: str) -> str:
    proc = _git(args, cwd)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ConfigError(f"{what} failed: {detail[-1] if detail else 'git error'}")
    return proc.stdout


# --------------------------------------------------------------------------- init

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
    inside = _git(["rev-parse", "--show-toplevel"], anchor)
    in_repo = inside.returncode == 0
    # Refuse before writing anything when git cannot commit (no identity).
    for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        proc = _git(["var", var], anchor)
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
        _git_or_fail(["init", "-q", "-b", "main"], directory, "git init")
    paths = list(INIT_FILES)
    _git_or_fail(["add", "--", *paths], directory, "git add")
    _git_or_fail(
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


# --------------------------------------------------------------------------- lint


def _sort_key(f: Finding) -> tuple[str, int, str, str]:
    return (f.path, f.line or 0, f.rule, f.message)


@app.command()
def lint(
    path: Annotated[
        Path,
        typer.Argument(
            help="The prompt repository (or a folder inside one).", show_default="."
        ),
    ] = Path("."),
    ref: RefOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check prompts: the working tree (and version rules against HEAD) or a ref.

    Prints ``path:line: error|warning: message [rule]``; exits 1 when there are errors.
    """
    with cli_errors(json_):
        findings, count, target = _lint(path, ref)
        errors = sum(1 for f in findings if f.severity == "error")
        warnings = sum(1 for f in findings if f.severity == "warning")
        if json_:
            print_json(
                {
                    "ok": errors == 0,
                    "target": target,
                    "prompts": count,
                    "errors": errors,
                    "warnings": warnings,
                    "findings": [f.to_dict() for f in findings],
                }
            )
        else:
            # Info findings (e.g. "no git history") are remarks, not problems: stderr.
            for f in findings:
                if f.severity == "info":
                    note(f"{f.message} [{f.rule}]")
            print_findings([f for f in findings if f.severity != "info"])
            if count == 0:
                note(
                    f"no prompt files found in {path}: run lint on the repository "
                    "root, the folder that holds prompts/ (and dakora.yaml)"
                )
            _print_lint_summary(count, errors, warnings)
    if errors:
        raise typer.Exit(1)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _print_lint_summary(count: int, errors: int, warnings: int) -> None:
    checked = _plural(count, "prompt")
    if not errors and not warnings:
        summary = f"ok: {checked} checked, no problems"
        style = "green"
    else:
        summary = (
            f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} "
            f"({checked} checked)"
        )
        style = "bold red" if errors else "yellow"
    if is_rich():
        make_console().print(f"[{style}]{summary}[/]")
    else:
        write_text(summary + "\n")


def _lint(path: Path, ref: str | None) -> tuple[list[Finding], int, str]:
    """(findings sorted, number of prompt files, what was checked)."""
    from dakora.registry.checks import check_snapshot

    try:
        repo = _open_repo(path)
    except RepositoryNotFound:
        if ref is not None:
            raise
        # A plain folder: no history, so the checks skip the version rules (and say
        # so with an info finding).
        snapshot = _folder_snapshot(path)
        findings = check_snapshot(snapshot)
        return sorted(findings, key=_sort_key), len(snapshot.prompt_paths()), "folder"

    if ref is None and repo.bare:
        note("a bare repository has no working tree: checking HEAD")
        ref = "HEAD"
    if ref is not None:
        commit = str(repo.resolve(ref))
        snapshot = repo.snapshot(commit)
        parent_commit = _parent_commit(repo, commit)
        target = f"{ref} ({commit[:12]})"
    else:
        snapshot = repo.working_tree()
        parent_commit = _head(repo)
        target = "working tree"
    parent = repo.snapshot(parent_commit) if parent_commit else None
    findings = check_snapshot(
        snapshot, parent=parent, version_lookup=_version_lookup(repo)
    )
    return sorted(findings, key=_sort_key), len(snapshot.prompt_paths()), target


# --------------------------------------------------------------------------- render


class _InputsLoader(yaml.SafeLoader):
    """SafeLoader that keeps ``2024-11-02`` a string, as JSON would (no dates)."""


_InputsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_inputs_file(spec: str) -> dict[str, Any]:
    """JSON (or YAML for .yaml/.yml) object of typed inputs; ``-`` reads stdin.

    stdin is read as JSON when it starts with ``{`` or ``[``, otherwise as YAML.
    """
    label = "stdin" if spec == "-" else spec
    try:
        if spec == "-":
            text = sys.stdin.read()
        else:
            text = Path(spec).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BadRequest(f"cannot read inputs file {label}: {reason}") from exc
    is_yaml = spec.lower().endswith((".yaml", ".yml"))
    if spec == "-":
        # stdin has no extension: JSON when it looks like JSON, else YAML (the README
        # promises both for `--inputs-file -`)
        is_yaml = not text.lstrip().startswith(("{", "["))
    try:
        data = yaml.load(text, Loader=_InputsLoader) if is_yaml else json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"inputs file {label}:{exc.lineno}: not valid JSON: {exc.msg}"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise BadRequest(
            f"inputs file {label}{where}: not valid YAML: {problem}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise BadRequest(
            f"inputs file {label} must hold one object of name: value pairs, "
            f"not {type(data).__name__}"
        )
    return data


def _coerce(
    specs: dict[str, InputSpec],
    file_values: dict[str, Any],
    cli_values: dict[str, str],
) -> dict[str, Any]:
    """Coerce file values as JSON and ``-i`` values as CLI strings; ``-i`` wins.

    Every problem from both sources (and every missing required input) is reported in
    one InputError.
    """
    from dakora.registry.inputs import coerce_inputs

    file_only = {k: v for k, v in file_values.items() if k not in cli_values}
    if not file_only:
        return coerce_inputs(specs, cli_values, source="cli")
    if not cli_values:
        return coerce_inputs(specs, file_only, source="json")
    problems = []
    coerced: dict[str, Any] = {}
    for source, values in (("json", file_only), ("cli", cli_values)):
        subset = {k: specs[k] for k in values if k in specs}
        try:
            coerced.update(coerce_inputs(subset, values, source=source))  # type: ignore[arg-type]
        except InputError as exc:
            problems.extend(exc.problems)
    given = set(file_only) | set(cli_values)
    try:
        final = coerce_inputs(specs, coerced, source="json")
    except InputError as exc:
        problems.extend(p for p in exc.problems if p.name not in given)
        final = {}
    if problems:
        raise InputError(problems)
    return final


def _select_snapshot(
    repo: PromptRepository,
    prompt_id: str,
    ref: str | None,
    version: str | None,
    commit: str | None,
) -> Snapshot:
    if version is not None:
        info = repo.find_version(prompt_id, version)
        return repo.snapshot(info.commit)
    rev = ref if ref is not None else commit
    if rev is not None:
        return repo.snapshot(repo.resolve(rev))
    if repo.bare:
        note("a bare repository has no working tree: rendering HEAD")
        return repo.snapshot(repo.resolve("HEAD"))
    return repo.working_tree()


def format_chat(messages: list[dict[str, str]]) -> str:
    """``[role]`` then the content, one block per message, blocks a blank line apart."""
    blocks = []
    for m in messages:
        content = m["content"]
        if not content.endswith("\n"):
            content += "\n"
        blocks.append(f"[{m['role']}]\n{content}")
    return "\n".join(blocks)


@app.command()
def render(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    repo: RepoOpt = Path("."),
    ref: RefOpt = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="Render the commit that introduced this version."
        ),
    ] = None,
    commit: Annotated[
        str | None, typer.Option("--commit", help="Render at this commit sha.")
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "-i",
            "--input",
            metavar="KEY=VALUE",
            help="An input as a string, coerced by its declared type. Repeatable.",
        ),
    ] = None,
    inputs_file: Annotated[
        str | None,
        typer.Option(
            "--inputs-file",
            metavar="FILE",
            help="A JSON (or .yaml/.yml) object of typed inputs; '-' reads stdin. "
            "-i values override it.",
        ),
    ] = None,
    json_: JsonOpt = False,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            metavar="URL",
            help="Render on a Dakora server instead of the local repository.",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            help="Remote project (UUID or workspace/project); implies remote mode "
            "with DAKORA_URL or the `dakora link` server.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Remote API key (default: DAKORA_API_KEY, then the saved link).",
        ),
    ] = None,
) -> None:
    """Render a prompt and print exactly the result.

    With no --ref/--version/--commit it renders the working tree, so you see edits
    before committing. Chat prompts print one block per message, headed by the role
    in square brackets (with --json: the list of role/content objects). With --remote
    (or --project) the server renders it, with the same output. Exit 2 for bad
    inputs, 1 for other errors.
    """
    with cli_errors(json_):
        if remote is not None or project is not None:
            text_or_messages = _render_remote(
                prompt_id,
                ref,
                version,
                commit,
                inputs or [],
                inputs_file,
                url=remote,
                project=project,
                api_key=api_key,
            )
        else:
            text_or_messages = _render(
                prompt_id, repo, ref, version, commit, inputs or [], inputs_file
            )
    if json_:
        print_json(text_or_messages)
    elif isinstance(text_or_messages, list):
        write_text(format_chat(text_or_messages))
    else:
        write_text(text_or_messages)


def _check_one_selector(
    ref: str | None, version: str | None, commit: str | None
) -> None:
    chosen = [
        name
        for name, value in (
            ("--ref", ref),
            ("--version", version),
            ("--commit", commit),
        )
        if value is not None
    ]
    if len(chosen) > 1:
        raise BadRequest(
            f"use only one of --ref, --version, --commit (got {', '.join(chosen)})"
        )


def _render_remote(
    prompt_id: str,
    ref: str | None,
    version: str | None,
    commit: str | None,
    pairs: list[str],
    inputs_file: str | None,
    *,
    url: str | None,
    project: str | None,
    api_key: str | None,
) -> str | list[dict[str, str]]:
    """The server renders (through the SDK); the server coerces and checks inputs."""
    from dakora.cli.link import render_remote
    from dakora.registry.inputs import parse_cli_pairs

    _check_one_selector(ref, version, commit)
    cli_values = parse_cli_pairs(pairs) if pairs else {}
    file_values = _read_inputs_file(inputs_file) if inputs_file is not None else {}
    return render_remote(
        prompt_id,
        file_values=file_values,
        cli_values=cli_values,
        ref=ref,
        version=version,
        commit=commit,
        url=url,
        api_key=api_key,
        project=project,
    )


def _find_prompt(snapshot: Snapshot, prompt_id: str) -> LoadedPrompt:
    """``find_prompt``, but a file that does not load and is named after the id, or
    says ``id: <the id>``, is reported with its findings (InvalidPrompt) rather than
    as "not found"."""
    try:
        return snapshot.find_prompt(prompt_id)
    except PromptNotFound:
        paths = snapshot.prompt_paths()
        for path in paths:
            if PurePosixPath(path).stem == prompt_id:
                snapshot.load(path)  # raises InvalidPrompt with path:line findings
        declares = re.compile(
            rb"^id:[ \t]*([\"']?)"
            + re.escape(prompt_id.encode())
            + rb"\1[ \t]*(#.*)?$",
            re.MULTILINE,
        )
        for path in paths:
            try:
                text = snapshot.read(path)
            except DakoraError:
                continue
            if declares.search(text):
                snapshot.load(path)
        raise


def _render(
    prompt_id: str,
    repo_path: Path,
    ref: str | None,
    version: str | None,
    commit: str | None,
    pairs: list[str],
    inputs_file: str | None,
) -> str | list[dict[str, str]]:
    from dakora.registry.inputs import parse_cli_pairs
    from dakora.registry.renderer import Renderer

    _check_one_selector(ref, version, commit)
    cli_values = parse_cli_pairs(pairs) if pairs else {}
    file_values = _read_inputs_file(inputs_file) if inputs_file is not None else {}
    try:
        repo = _open_repo(repo_path)
    except RepositoryNotFound:
        if ref is not None or version is not None or commit is not None:
            raise
        snapshot = _folder_snapshot(repo_path)
    else:
        snapshot = _select_snapshot(repo, prompt_id, ref, version, commit)
    loaded = _find_prompt(snapshot, prompt_id)
    prompt = loaded.prompt
    values = _coerce(dict(prompt.inputs), file_values, cli_values)
    result = Renderer().render(
        prompt, values, snapshot.parts, cache_key=loaded.blob_sha
    )
    if result.kind == "chat":
        return list(result.messages or [])
    return result.rendered or ""


# --------------------------------------------------------------------------- history


@app.command()
def history(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    repo: RepoOpt = Path("."),
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref", help="Walk the history reachable from this ref (default HEAD)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Every version of a prompt, newest first: version, commit, date, author, message."""
    with cli_errors(json_):
        prompt_repo = _open_repo(repo)
        versions = prompt_repo.history(prompt_id, ref or "HEAD")
        if not versions:
            raise NotFound(f"prompt '{prompt_id}' has no history at {ref or 'HEAD'}")
    if json_:
        print_json(
            [
                {
                    "id": v.prompt_id,
                    "version": v.version,
                    "commit": v.commit,
                    "path": v.path,
                    "blob_sha": v.blob_sha,
                    "author": v.author,
                    "committed_at": v.committed_at.isoformat(),
                    "message": v.message,
                }
                for v in versions
            ]
        )
        return
    rows = [
        [
            v.version,
            v.commit[:12],
            v.committed_at.strftime("%Y-%m-%d %H:%M"),
            v.author.split(" <")[0],  # the name; --json has "Name <email>"
            (v.message.strip().splitlines() or [""])[0],
        ]
        for v in versions
    ]
    print_table(["VERSION", "COMMIT", "DATE (UTC)", "AUTHOR", "MESSAGE"], rows)


# --------------------------------------------------------------------------- diff


@app.command()
def diff(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    from_: Annotated[
        str, typer.Argument(metavar="FROM", help="A version (1.2.0) or a ref/commit.")
    ],
    to: Annotated[str, typer.Argument(metavar="TO", help="A version or a ref/commit.")],
    repo: RepoOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Unified diff of a prompt file between two versions or refs."""
    with cli_errors(json_):
        text = _open_repo(repo).diff(prompt_id, from_, to)
    if json_:
        print_json({"id": prompt_id, "from": from_, "to": to, "diff": text})
        return
    if not text:
        note(f"no differences in '{prompt_id}' between {from_} and {to}")
        return
    print_diff(text)
