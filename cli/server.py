"""``dakora serve``: run the registry server (uvicorn, one worker).

With no configuration it runs on SQLite and local folders under ``./.dakora`` and
migrates on start. ``--demo`` loads ``sample-repo/`` as workspace ``demo``, project
``demo`` (idempotent) and prints a read+write API key and URLs to try.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from dakora.cli.main import app
from dakora.registry.errors import ConfigError
from dakora.registry.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 54321


def build_settings(**overrides: Any) -> Settings:
    """``Settings`` from the environment plus the given non-None overrides."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


def _uvicorn_options() -> dict[str, Any]:
    """uvloop and httptools when installed (the fast path), else asyncio and h11."""
    opts: dict[str, Any] = {"loop": "asyncio", "http": "h11"}
    if importlib.util.find_spec("uvloop") is not None:
        opts["loop"] = "uvloop"
    if importlib.util.find_spec("httptools") is not None:
        opts["http"] = "httptools"
    return opts


def setup_demo(settings: Settings) -> None:
    """Create workspace/project ``demo`` from sample-repo/ (idempotent)."""
    raise ConfigError("--demo is not available yet")


@app.command("serve")
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind [default: 127.0.0.1, or DAKORA_HOST]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on [default: 54321, or DAKORA_PORT]."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder for the database, repositories and mirror "
            "[default: ./.dakora, or DAKORA_DATA_DIR].",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Load sample-repo/ as workspace 'demo', project 'demo' and print an "
            "API key and URLs to try.",
        ),
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
) -> None:
    """Run the registry server (migrates the database on start)."""
    import uvicorn

    from dakora.api.app import check_settings, create_app

    settings = build_settings(host=host, port=port, data_dir=data_dir)
    check_settings(settings)
    settings.ensure_data_dir()
    if demo:
        setup_demo(settings)
    application = create_app(settings)
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        workers=1,
        lifespan="on",
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=5,
        **_uvicorn_options(),
    )
