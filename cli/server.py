"""``dakora serve``: run the registry server (uvicorn, one worker).

With no configuration it runs on SQLite and local folders under ``./.dakora`` and
migrates on start. ``--demo`` loads ``sample-repo/`` as workspace ``demo``, project
``demo`` (idempotent) and prints a read+write API key and URLs to try.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from dakora.cli.commands import command_app
from dakora.registry.core import ConfigError, Settings

app = command_app()

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


def _check_database(settings: Settings) -> None:
    """Fail with a clear message (not a lifespan traceback) when the database is
    unreachable or its URL is wrong."""
    from dakora.registry.db import make_engine, translate_errors

    engine = make_engine(settings.database_url)
    try:
        with translate_errors(), engine.connect():
            pass
    finally:
        engine.dispose()


def _uvicorn_options() -> dict[str, Any]:
    """uvloop and httptools when installed (the fast path), else asyncio and h11."""
    opts: dict[str, Any] = {"loop": "asyncio", "http": "h11"}
    if importlib.util.find_spec("uvloop") is not None:
        opts["loop"] = "uvloop"
    if importlib.util.find_spec("httptools") is not None:
        opts["http"] = "httptools"
    return opts


DEMO_WORKSPACE = "demo"
DEMO_PROJECT = "demo"
DEMO_KEY_FILE = "demo-key.txt"


@dataclass(frozen=True)
class DemoInfo:
    project_id: str
    key: str
    imported: bool


def find_sample_repo() -> Path:
    """``sample-repo/`` in the current folder, else next to the source tree."""
    here = Path.cwd() / "sample-repo"
    if (here / "prompts").is_dir():
        return here
    source_tree = Path(__file__).resolve().parents[1] / "sample-repo"
    if (source_tree / "prompts").is_dir():
        return source_tree
    raise ConfigError(
        "--demo needs the sample-repo/ folder: run `dakora serve --demo` from the "
        "root of the Dakora source tree"
    )


def setup_demo(settings: Settings) -> DemoInfo:
    """Workspace ``demo``, project ``demo`` from sample-repo/, and a read+write key.

    Idempotent: an existing workspace, project and content are kept, and the key saved
    in ``<data_dir>/demo-key.txt`` (mode 0600) is shown again while it is still valid.
    The content goes through the same import (and checks) as
    ``dakora admin create-project demo/demo --from sample-repo``.
    """
    from dakora.registry import tenancy
    from dakora.registry.core import (
        NotFound,
        ProjectNotFound,
        Unauthenticated,
        WorkspaceNotFound,
    )
    from dakora.registry.db import make_engine, upgrade
    from dakora.registry.index import import_into_project
    from dakora.registry.tenancy import keys

    settings.ensure_data_dir()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        try:
            tenancy.get_workspace(engine, DEMO_WORKSPACE)
        except WorkspaceNotFound:
            tenancy.create_workspace(engine, DEMO_WORKSPACE, name="Demo")
        try:
            project = tenancy.get_project(engine, f"{DEMO_WORKSPACE}/{DEMO_PROJECT}")
        except ProjectNotFound:
            project = tenancy.create_project(
                engine, settings, DEMO_WORKSPACE, DEMO_PROJECT, name="Demo"
            )
        imported = False
        if not _has_refs(project.repo_path):
            import_into_project(engine, project, find_sample_repo())
            imported = True
        key_file = settings.data_dir / DEMO_KEY_FILE
        plaintext = None
        if key_file.exists():
            saved = key_file.read_text(encoding="ascii").strip()
            try:
                record = keys.verify_key(engine, settings.pepper(), saved)
            except (Unauthenticated, NotFound):
                record = None
            if record is not None and record.project_id == project.id:
                plaintext = saved
        if plaintext is None:
            new = keys.create_key(
                engine,
                settings.pepper(),
                project.id,
                scope="write",
                name="demo",
                max_active=settings.max_keys_per_project,
            )
            plaintext = new.plaintext
            _write_private(key_file, plaintext + "\n")
        return DemoInfo(project_id=project.id, key=plaintext, imported=imported)
    finally:
        engine.dispose()


def _has_refs(repo_path: Path) -> bool:
    from dulwich.repo import Repo

    repo = Repo(str(repo_path))
    try:
        return any(
            n.startswith((b"refs/heads/", b"refs/tags/")) for n in repo.refs.allkeys()
        )
    finally:
        repo.close()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def dakora_command(argv0: str | None = None) -> str:
    """How to type ``dakora`` so that a pasted command runs this same install.

    ``dakora`` when that name on PATH is this executable; otherwise its path, relative
    to the current folder when inside it (``make run`` prints ``.venv/bin/dakora``),
    quoted for a POSIX shell.
    """
    script = Path(argv0 if argv0 is not None else sys.argv[0])
    if script.name != "dakora" or not script.is_file():
        return "dakora"  # not run as the console script (tests, python -m)
    on_path = shutil.which("dakora")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "dakora"
    try:
        shown = script.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        shown = str(script.absolute())
    if "/" not in shown:
        shown = f"./{shown}"  # a bare name would be looked up on PATH
    return shlex.quote(shown)


def studio_line(settings: Settings, base: str) -> str:
    """The Studio's URL for the banner, with how to build it when it is not built."""
    from dakora.api.studio import find_studio_dir, studio_url

    url = studio_url(base)
    if find_studio_dir(settings) is None:
        return f"{url}   (not built yet: run `make studio`)"
    return url


def demo_banner(settings: Settings, info: DemoInfo) -> str:
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    base = f"http://{host}:{settings.port}"
    if settings.public_url:
        base = settings.public_url.rstrip("/")
    project = f"{base}/api/projects/{info.project_id}"
    auth = f'-H "Authorization: Bearer {info.key}"'
    body = '{"inputs": {"customer": "Ada", "ticket": "I was charged twice."}}'
    state = "loaded from sample-repo/" if info.imported else "already loaded"
    return "\n".join(
        [
            "",
            f"Dakora demo: workspace 'demo', project 'demo' ({state})",
            f"  project id   {info.project_id}   (also accepted as demo~demo)",
            f"  API key      {info.key}   (read+write; saved in "
            f"{settings.data_dir / DEMO_KEY_FILE})",
            f"  Studio       {studio_line(settings, base)}",
            f"  API docs     {base}/docs",
            "",
            "Try:",
            f"  curl {auth} {project}/prompts",
            f"  curl {auth} {project}/prompts/support-reply",
            f"  curl {auth} -H 'Content-Type: application/json' \\",
            f"       -d '{body}' {project}/prompts/support-reply/render",
            "  git clone "
            + base.replace("://", f"://demo:{info.key}@", 1)
            + "/git/demo/demo.git",
            f"  DAKORA_URL={base} DAKORA_API_KEY={info.key} "
            f"{dakora_command()} render support-reply --remote {base} "
            f"--project {info.project_id} "
            "-i customer=Ada -i ticket='I was charged twice.'",
            "",
        ]
    )


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line before start-up when the address is taken.

    uvicorn would otherwise print "Application startup complete." and only then die on
    the bind. The probe uses SO_REUSEADDR like uvicorn, so a port in TIME_WAIT is fine.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}. Is another "
                "server running there? Pick another port with --port or DAKORA_PORT."
            ) from exc


@app.command("serve")
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind (default: 127.0.0.1, or DAKORA_HOST)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (default: 54321, or DAKORA_PORT)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder for the database, repositories and mirror "
            "(default: ./.dakora, or DAKORA_DATA_DIR).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL (default: SQLite in the data dir, or "
            "DAKORA_DATABASE_URL).",
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
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log every request, one line each to stderr (written in batches, "
            "at most 0.2 s late).",
        ),
    ] = True,
) -> None:
    """Run the registry server (migrates the database on start)."""
    import uvicorn

    from dakora.api.app import check_settings, create_app

    settings = build_settings(
        host=host, port=port, data_dir=data_dir, database_url=database_url
    )
    check_settings(settings)
    _check_port_free(settings.host, settings.port)
    settings.ensure_data_dir()
    _check_database(settings)
    if demo:
        info = setup_demo(settings)
        typer.echo(demo_banner(settings, info))
    application: Any = create_app(settings)
    log = None
    if access_log:
        # Dakora's lean access log instead of uvicorn's (docs/server.md, "Access log")
        from dakora.api.access_log import AccessLog

        application = log = AccessLog(application)
    try:
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            workers=1,
            lifespan="on",
            access_log=False,
            log_level="info",
            timeout_graceful_shutdown=5,
            **_uvicorn_options(),
        )
    finally:
        if log is not None:  # written at the lifespan shutdown; this covers a crash
            log.flush()
