"""MkDocs hook: the CLI and HTTP API reference pages, generated at build time.

Both pages are made from the code on every ``mkdocs build`` so they cannot drift:

- ``cli.md`` walks the ``dakora`` Typer app (every registered command and sub-command)
  with Typer's own Markdown generator, the one behind ``typer … utils docs``;
- ``http-api.md`` renders the OpenAPI schema of ``dakora.api.app.create_app`` (the
  same document the server serves at ``/openapi.json``) into Markdown tables.

Nothing is fetched and nothing is written into ``docs/``: the pages are added to the
build as generated files. A failure to import or walk the app fails the build.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

CLI_PAGE = "cli.md"
API_PAGE = "http-api.md"

CLI_INTRO = """\
Generated from the `dakora` command itself at docs build time (the same text as
`dakora COMMAND --help`). For what the local commands do, with examples, see
[Local commands](local-commands.md); the server-side commands are explained in
[Operations](operations.md), [Mirror and replicas](mirror.md) and
[Git push and checks](git.md).

Exit codes: `0` ok, `1` failure (lint errors, not found, a refused operation…),
`2` bad input (inputs that don't fit, malformed `-i`, conflicting options).
"""

API_INTRO = """\
Generated at docs build time from the server's OpenAPI schema (the document a
running server serves at `/openapi.json`, with interactive docs at `/docs`). How
to authenticate, name a project, and read the error shape is explained in
[The server](server.md); writes in [Writing through the API](api-writes.md).
"""

# Sections in reading order; a tag not listed here follows them in the order met.
TAG_ORDER = ["health", "me", "prompts", "parts", "writes", "logs", "pushes", "review"]


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, CLI_PAGE, content=cli_markdown()))
    files.append(File.generated(config, API_PAGE, content=api_markdown()))
    return files


# ----------------------------------------------------------------------------- CLI


def cli_markdown() -> str:
    import typer
    import typer.cli

    from dakora.cli.main import app  # its group loads every command as it is walked

    command = typer.main.get_command(app)
    ctx = typer.Context(command)
    ctx.ensure_object(dict)
    ctx.obj[typer.cli.MARKUP_MODE_KEY] = app.rich_markup_mode
    text = typer.cli.get_docs_for_click(
        obj=command, ctx=ctx, name="dakora", title="CLI reference"
    )
    title, _, body = text.partition("\n\n")
    if not title.startswith("# ") or "## `dakora " not in body:
        raise RuntimeError("the Typer app produced no command documentation")
    return f"{title}\n\n{CLI_INTRO}\n{body.strip()}\n"


# ----------------------------------------------------------------------------- API


def openapi_schema() -> dict[str, Any]:
    from dakora.api.app import create_app
    from dakora.registry.core import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        # create_app opens nothing before start-up; the folder only satisfies Settings.
        app = create_app(Settings(data_dir=Path(data_dir), auth_mode="keys"))
        return app.openapi()


def api_markdown(spec: dict[str, Any] | None = None) -> str:
    spec = spec if spec is not None else openapi_schema()
    info = spec.get("info", {})
    out = ["# HTTP API reference", "", API_INTRO]
    out += [
        f"OpenAPI {spec.get('openapi', '')}, API version {info.get('version', '')}."
    ]
    if info.get("description"):
        out += ["", _text(info["description"].strip())]
    groups = _operations_by_tag(spec)
    out += ["", "## Routes", "", "| Method | Path | What |", "|---|---|---|"]
    for ops in groups.values():
        for method, path, op in ops:
            link = f"[`{path}`](#{_op_anchor(op)})"
            out.append(f"| {method} | {link} | {_cell(op.get('summary', ''))} |")
    for tag, ops in groups.items():
        out += ["", f"## {tag.capitalize()}"]
        for method, path, op in ops:
            out += _operation(method, path, op)
    out += ["", "## Schemas"]
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out += _schema(name, schema)
    return "\n".join(out) + "\n"


def _operations_by_tag(
    spec: dict[str, Any],
) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append((method.upper(), path, op))
    order = {tag: i for i, tag in enumerate(TAG_ORDER)}
    return dict(sorted(groups.items(), key=lambda kv: order.get(kv[0], len(order))))


def _op_anchor(op: dict[str, Any]) -> str:
    return "op-" + op["operationId"].replace("_", "-")


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = ["", f"### `{method} {path}` {{#{_op_anchor(op)}}}", ""]
    out.append(_text(op.get("summary", "")))
    if op.get("description"):
        out += ["", _text(op["description"].strip())]
    params = op.get("parameters", [])
    if params:
        out += ["", "| Parameter | In | Type | Required | Description |"]
        out.append("|---|---|---|---|---|")
        for p in params:
            schema = p.get("schema", {})
            required = "yes" if p.get("required") else "no"
            desc = p.get("description") or schema.get("description", "")
            default = schema.get("default")
            if default is not None:
                desc = f"{desc} (default `{json.dumps(default)}`)".strip()
            out.append(
                f"| `{p['name']}` | {p.get('in', '')} | {_type(schema)} | {required} "
                f"| {_cell(desc)} |"
            )
    body = op.get("requestBody")
    if body:
        for ctype, media in body.get("content", {}).items():
            out += ["", f"Request body (`{ctype}`): {_type(media.get('schema', {}))}"]
    out += ["", "| Status | Meaning | Body |", "|---|---|---|"]
    for status, resp in op.get("responses", {}).items():
        bodies = [
            f"{_type(media.get('schema', {}))} (`{ctype}`)"
            for ctype, media in resp.get("content", {}).items()
        ]
        out.append(
            f"| {status} | {_cell(resp.get('description', ''))} "
            f"| {', '.join(bodies) or '—'} |"
        )
    return out


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    out = ["", f"### {name} {{#{_schema_anchor(name)}}}", ""]
    if schema.get("description"):
        out += [_cell(schema["description"]), ""]
    props = schema.get("properties")
    if not props:
        out.append(f"Type: {_type(schema)}")
        return out
    required = set(schema.get("required", []))
    out += ["| Field | Type | Required | Description |", "|---|---|---|---|"]
    for field, sub in props.items():
        desc = sub.get("description", "")
        if "default" in sub and sub["default"] is not None:
            desc = f"{desc} (default `{json.dumps(sub['default'])}`)".strip()
        out.append(
            f"| `{field}` | {_type(sub)} | {'yes' if field in required else 'no'} "
            f"| {_cell(desc)} |"
        )
    return out


def _schema_anchor(name: str) -> str:
    return "schema-" + name.lower()


def _type(schema: dict[str, Any]) -> str:
    """A JSON schema as a short phrase, with links to the named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_schema_anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type(s) for s in schema[key]]
            return " or ".join(dict.fromkeys(parts))
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"object of {_type(extra)}"
        return "object"
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind:
        fmt = schema.get("format")
        return f"{kind} ({fmt})" if fmt else str(kind)
    return "any"


def _text(text: str) -> str:
    """Prose from the schema: ``<name>`` placeholders are text, not HTML tags.

    Code spans (between backticks) are left alone: Markdown escapes those itself.
    """
    pieces = str(text).split("`")
    for i in range(0, len(pieces), 2):
        pieces[i] = pieces[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(pieces)


def _cell(text: str) -> str:
    return _text(" ".join(str(text).split())).replace("|", "\\|")
