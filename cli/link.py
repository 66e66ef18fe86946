"""``dakora link URL``: remember a server (URL, API key, project) for remote commands.

The link is saved to ``~/.config/dakora/link.json`` (0600) and read by
``dakora.client.config.resolve_remote`` after flags and ``DAKORA_URL`` /
``DAKORA_API_KEY`` / ``DAKORA_PROJECT``. Remote commands use it through the helpers
here:

- ``open_remote(url, api_key, project)`` → a ``dakora.client.Dakora`` (or ``BadRequest``
  naming what is missing);
- ``render_remote(…)`` — what ``dakora render --remote`` prints: the rendered text, or
  the list of chat messages.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dakora.cli.commands import command_app
from dakora.cli.output import cli_errors, print_json, write_text
from dakora.registry.core import (
    BadRequest,
    NotFound,
    StorageError,
)

app = command_app()

if TYPE_CHECKING:
    from dakora.client import Dakora

CHECK_TIMEOUT = 10.0


# -- helpers for remote commands -------------------------------------------------------


def open_remote(
    url: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    **options: Any,
) -> Dakora:
    """A client for flags → environment → saved link; ``BadRequest`` if incomplete."""
    from dakora.client import Dakora
    from dakora.client.config import resolve_remote

    url, api_key, project = resolve_remote(url, api_key, project)
    if not url:
        raise BadRequest(
            "no server: pass --remote URL, set DAKORA_URL or run `dakora link URL`"
        )
    # no project: the client asks the server for the default one (GET /api/me)
    options.setdefault("cache_ttl", 0)
    options.setdefault("stale_ttl", 0)
    return Dakora(url, api_key, project, **options)


def _decode_cli_values(
    specs: Mapping[str, Any], cli_values: Mapping[str, str]
) -> dict[str, Any]:
    """``-i`` strings for ``array<string>``/``object`` inputs given as JSON → values.

    Every other value goes to the server as the string it is; the server coerces by
    declared type and reports every bad input at once.
    """
    out: dict[str, Any] = {}
    for name, value in cli_values.items():
        spec = specs.get(name)
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        if kind in ("array<string>", "object") and value.lstrip()[:1] in ("[", "{"):
            try:
                out[name] = json.loads(value)
                continue
            except ValueError:
                pass
        out[name] = value
    return out


def render_remote(
    prompt_id: str,
    *,
    file_values: Mapping[str, Any] | None = None,
    cli_values: Mapping[str, str] | None = None,
    ref: str | None = None,
    version: str | None = None,
    commit: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
) -> str | list[dict[str, str]]:
    """Render on the server: the text, or the chat messages (like local render).

    ``file_values`` (typed, from ``--inputs-file``) and ``cli_values`` (``-i`` strings,
    winning over the file) are merged; the server coerces and checks them.
    """
    chosen = [v for v in (ref, version, commit) if v is not None]
    if len(chosen) > 1:
        raise BadRequest("use only one of --ref, --version, --commit")
    client = open_remote(url, api_key, project)
    try:
        inputs: dict[str, Any] = dict(file_values or {})
        if cli_values:
            prompt = client.prompts.get(
                prompt_id, ref=ref, version=version, commit=commit
            )
            inputs.update(_decode_cli_values(prompt.inputs, cli_values))
        result = client.prompts.render(
            prompt_id, inputs, ref=ref, version=version, commit=commit
        )
    finally:
        client.close()
    if result.messages is not None:
        return list(result.messages)
    return result.rendered or ""


# -- the command -----------------------------------------------------------------------


def _mask(key: str | None) -> str | None:
    if not key:
        return None
    return key[:7] + "…" + key[-4:] if len(key) > 16 else "…"


def _check_server(url: str, api_key: str | None) -> dict[str, Any] | None:
    """GET /api/health, then /api/me with the key; returns /api/me's body (or None)."""
    import httpx

    from dakora.client._errors import error_from_response

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=url, timeout=CHECK_TIMEOUT, headers=headers) as http:
            health = http.get("/api/health")
            if health.status_code != 200:
                raise StorageError(
                    f"{url} does not look like a Dakora server "
                    f"(GET /api/health → {health.status_code})"
                )
            if not api_key:
                return None
            me = http.get("/api/me")
            if me.status_code != 200:
                raise error_from_response(me)
            data = me.json()
            return data if isinstance(data, dict) else None
    except httpx.HTTPError as exc:
        raise StorageError(
            f"cannot reach the Dakora server at {url}: {type(exc).__name__}"
        ) from exc
    except ValueError as exc:
        raise StorageError(f"{url} answered with something that is not JSON") from exc


def _project_from_me(me: Mapping[str, Any] | None) -> str | None:
    """The caller's ``default_project`` (a key's own project, a user's personal
    ``default``); from older servers, the one project of a key."""
    if not me:
        return None
    p = me.get("default_project")
    if not isinstance(p, Mapping):
        if me.get("kind") != "key":
            return None
        projects = [p for p in me.get("projects") or [] if isinstance(p, Mapping)]
        if len(projects) != 1:
            return None
        p = projects[0]
    if p.get("workspace") and p.get("slug"):
        return f"{p['workspace']}/{p['slug']}"
    return str(p.get("id")) if p.get("id") else None


def _check_project(me: Mapping[str, Any] | None, project: str | None) -> None:
    """Refuse a --project the key cannot read (when /api/me was asked)."""
    if not me or not project:
        return
    projects = [p for p in me.get("projects") or [] if isinstance(p, Mapping)]
    names: list[str] = []
    for p in projects:
        full = f"{p.get('workspace')}/{p.get('slug')}"
        if project in {str(p.get("id")), full, f"{p.get('workspace')}~{p.get('slug')}"}:
            return
        names.append(full)
    readable = ", ".join(names) or "none"
    raise NotFound(
        f"project {project!r} is not one this key can read (it can read: {readable}); "
        "nothing was saved"
    )


@app.command("link")
def link(
    url: Annotated[
        str | None,
        typer.Argument(
            metavar="URL",
            help="The server, e.g. http://127.0.0.1:54321. Without it: show the link.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="DAKORA_API_KEY",
            help="API key (dk_…) to save; '-' reads it from stdin.",
            show_envvar=True,
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            help="Project UUID or workspace/project (default: the key's project).",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check", help="Contact the server to verify URL and key."
        ),
    ] = True,
    remove: Annotated[
        bool, typer.Option("--remove", help="Forget the saved link.")
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of text.")
    ] = False,
) -> None:
    """Save a server URL, API key and project for remote commands (`--remote`) and
    the SDK, in `~/.config/dakora/link.json` (readable by you only)."""
    from dakora.client.config import link_path, load_link, remove_link, save_link

    with cli_errors(json_):
        if remove:
            removed = remove_link()
            if json_:
                print_json({"removed": removed, "path": str(link_path())})
            else:
                write_text(f"removed {link_path()}\n" if removed else "no saved link\n")
            return
        if url is None:
            saved = load_link()
            if saved is None:
                raise NotFound("no saved link: run `dakora link URL`")
            info = {
                "url": saved.url,
                "project": saved.project,
                "api_key": _mask(saved.api_key),
                "path": str(link_path()),
            }
            if json_:
                print_json(info)
            else:
                write_text(
                    f"{saved.url}  project {saved.project or '-'}  "
                    f"key {info['api_key'] or '-'}\n"
                )
            return
        if not url.startswith(("http://", "https://")):
            raise BadRequest(f"URL must start with http:// or https:// (got {url!r})")
        if api_key == "-":
            api_key = sys.stdin.readline().strip() or None
        url = url.rstrip("/")
        me = _check_server(url, api_key) if check else None
        _check_project(me, project)
        project = project or _project_from_me(me)
        path = save_link(url, api_key, project)
    result = {
        "url": url,
        "project": project,
        "api_key": _mask(api_key),
        "path": str(path),
        "checked": check,
    }
    if json_:
        print_json(result)
        return
    write_text(
        f"linked {url}"
        + (f", project {project}" if project else "")
        + (f", key {result['api_key']}" if api_key else ", no key")
        + f"\nsaved to {path}\n"
    )
