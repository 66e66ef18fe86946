"""``dakora mcp``: a local prompt repository over MCP on stdio (docs/mcp.md).

An editor or a desktop agent starts this command and talks MCP on its stdin/stdout,
so prompts can be used before they are pushed. It reads what ``dakora render`` reads:
the working tree by default (re-read on every request, so edits show at once), or a
branch, tag or commit with ``--ref``. ``prompts/get`` coerces the string arguments as
``dakora render -i`` does (``local_render._coerce``) and renders with the same
renderer and render time limit. The MCP server itself is the one the remote endpoint
uses (``dakora.api.mcp.build_server``, the ``mcp`` SDK); stdout carries only the
protocol, diagnostics go to stderr.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dakora.cli.commands import command_app
from dakora.cli.local_repo import RepoOpt, folder_snapshot, open_repo
from dakora.cli.output import cli_errors
from dakora.registry.core import Prompt, RepositoryNotFound

if TYPE_CHECKING:
    from dakora.api.mcp import PromptServer, Rendered
    from dakora.registry.git import Snapshot
    from dakora.registry.render import Renderer

app = command_app()


class LocalSource:
    """``PromptSource`` over a checkout: the working tree, or ``ref`` when given."""

    def __init__(self, repo_path: Path, ref: str | None) -> None:
        from dakora.registry.core import render_timeout_from_env
        from dakora.registry.render import Renderer

        self.repo_path = repo_path
        self.ref = ref
        self.renderer: Renderer = Renderer(timeout_ms=render_timeout_from_env())

    def snapshot(self) -> Snapshot:
        """What to read now (a fresh look at the working tree on every call)."""
        try:
            repo = open_repo(self.repo_path)
        except RepositoryNotFound:
            if self.ref is not None:
                raise
            return folder_snapshot(self.repo_path)
        if self.ref is not None:
            return repo.snapshot(repo.resolve(self.ref))
        if repo.bare:
            return repo.snapshot(repo.resolve("HEAD"))
        return repo.working_tree()

    def list_prompts(self, request: Any) -> list[Prompt]:
        loaded = self.snapshot().prompts()  # files that do not load are left out
        return sorted((lp.prompt for lp in loaded), key=lambda p: p.id)

    def render(self, request: Any, name: str, arguments: Mapping[str, str]) -> Rendered:
        from dakora.api.mcp import Rendered
        from dakora.cli.local_render import _coerce, _find_prompt

        snapshot = self.snapshot()
        loaded = _find_prompt(snapshot, name)
        prompt = loaded.prompt
        values = _coerce(dict(prompt.inputs), {}, dict(arguments))  # the -i rules
        result = self.renderer.render(
            prompt, values, snapshot.parts, cache_key=loaded.blob_sha
        )
        return Rendered(
            prompt=prompt,
            kind=result.kind,
            rendered=result.rendered,
            messages=list(result.messages or []),
            meta={
                "prompt_id": prompt.id,
                "version": prompt.version,
                "ref": self.ref,
                "path": loaded.path,
            },
        )


async def _serve(server: PromptServer) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(
            read_stream, write_stream, server.create_initialization_options()
        )


@app.command("mcp")
def mcp(
    repo: RepoOpt = Path("."),
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            help="Branch, tag or commit to serve instead of the working tree.",
        ),
    ] = None,
) -> None:
    """Serve a local prompt repository to MCP clients (editors, desktop agents) over
    stdio.

    Each prompt is an MCP prompt whose arguments are its declared inputs;
    `prompts/get` coerces them as `dakora render -i` does and renders. With no
    --ref it serves the working tree, re-read on every request, so edits show
    before they are committed. Configure your MCP client to run
    `dakora mcp --repo PATH`; see the MCP page of the docs.
    """
    from importlib.metadata import version

    with cli_errors(False):
        import anyio

        from dakora.api.mcp import build_server  # the server extra: a clear message

        source = LocalSource(repo, ref)
        source.snapshot()  # a bad --repo or --ref fails here, with an exit code
        server = build_server(source, version=version("dakora"))
    anyio.run(_serve, server)
