"""What ``dakora render`` does, without Typer: a prompt rendered from the working tree,
a ref, a version, a commit or a remote registry, with inputs from flags, a file or
stdin.

``local_render`` declares the command for Typer (its options and ``--help``) and calls
``run_render``; ``cli/direct.py`` calls it straight from the console script, so a render
imports neither Typer nor its Pydantic type adapters (docs/development.md, "CLI start-up").
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from dakora.cli.output import (
    cli_errors,
    note,
    print_json,
    write_text,
)
from dakora.cli.repo_access import folder_snapshot, open_repo, work_tree_snapshot
from dakora.registry.core import (
    BadRequest,
    DakoraError,
    InputError,
    InputSpec,
    PromptNotFound,
    RepositoryNotFound,
)

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    from dakora.registry.git import PromptRepository, Snapshot
    from dakora.registry.load import LoadedPrompt


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
        # stdin has no extension: JSON when it looks like JSON, else YAML (docs/local-commands.md
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
    from dakora.registry.core import coerce_inputs

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


def run_render(
    prompt_id: str,
    repo: Path,
    ref: str | None,
    version: str | None,
    commit: str | None,
    inputs: list[str],
    inputs_file: str | None,
    json_: bool,
    remote: str | None,
    project: str | None,
    api_key: str | None,
) -> None:
    """Render ``prompt_id`` (locally, or remotely with ``remote``/``project``) and
    print exactly the result. Errors are reported by ``cli_errors`` (and end the
    command)."""
    with cli_errors(json_):
        if remote is not None or project is not None:
            text_or_messages = _render_remote(
                prompt_id,
                ref,
                version,
                commit,
                inputs,
                inputs_file,
                url=remote,
                project=project,
                api_key=api_key,
            )
        else:
            text_or_messages = _render(
                prompt_id, repo, ref, version, commit, inputs, inputs_file
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
    from dakora.registry.core import parse_cli_pairs

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
    from dakora.registry.core import parse_cli_pairs, render_timeout_from_env
    from dakora.registry.render import Renderer

    _check_one_selector(ref, version, commit)
    cli_values = parse_cli_pairs(pairs) if pairs else {}
    file_values = _read_inputs_file(inputs_file) if inputs_file is not None else {}
    snapshot: Snapshot | None = None
    if ref is None and version is None and commit is None:
        # the working tree's files: found without dulwich when that is certain
        snapshot = work_tree_snapshot(repo_path)
    if snapshot is None:
        try:
            repo = open_repo(repo_path)
        except RepositoryNotFound:
            if ref is not None or version is not None or commit is not None:
                raise
            snapshot = folder_snapshot(repo_path)
        else:
            snapshot = _select_snapshot(repo, prompt_id, ref, version, commit)
    try:
        loaded = _find_prompt(snapshot, prompt_id)
    except PromptNotFound as exc:
        if snapshot.prompt_paths():
            raise
        raise PromptNotFound(
            f"prompt '{prompt_id}' not found: no prompt files in {repo_path} (run it "
            "in the folder that holds prompts/ and dakora.yaml, or pass --repo)"
        ) from exc
    prompt = loaded.prompt
    values = _coerce(dict(prompt.inputs), file_values, cli_values)
    renderer = Renderer(timeout_ms=render_timeout_from_env())
    result = renderer.render(prompt, values, snapshot.parts, cache_key=loaded.blob_sha)
    if result.kind == "chat":
        return list(result.messages or [])
    return result.rendered or ""
