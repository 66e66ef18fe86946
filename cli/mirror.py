"""``dakora mirror status|sync`` and ``dakora restore``: the blob mirror by hand."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.output import cli_errors, make_console, print_json, print_table
from dakora.registry.core import ConfigError, DakoraError, StorageError

app = command_app()

mirror_app = command_app(
    help="The blob-storage mirror of every project (local folder or Azure Blob).",
    no_args_is_help=True,
)
app.add_typer(mirror_app, name="mirror")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data folder (default: DAKORA_DATA_DIR or ./.dakora)."
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _service(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from dakora.cli.admin_support import require_existing_database
    from dakora.cli.server import build_settings
    from dakora.registry.db import make_engine
    from dakora.registry.mirror import MirrorService, open_store

    settings = build_settings(data_dir=data_dir)
    require_existing_database(settings.database_url)
    store = open_store(settings)
    if store is None:
        raise ConfigError("the mirror is off (DAKORA_MIRROR_BACKEND=none)")
    engine = make_engine(settings.database_url)
    return settings, engine, MirrorService(engine, store)


@mirror_app.command("status")
def status(data_dir: DataDir = None, json_out: JsonFlag = False) -> None:
    """Mirror lag per project: pending syncs, their age, attempts and last error."""
    with cli_errors(json_out):
        _settings, _engine, service = _service(data_dir)
        rows = service.status()
        if json_out:
            print_json({"projects": [r.to_dict() for r in rows]})
            return
        print_table(
            ["project", "pending", "lag (s)", "attempts", "last synced", "last error"],
            [
                [
                    r.project,
                    r.pending,
                    f"{r.lag_seconds:.1f}",
                    r.attempts,
                    r.last_synced_at.isoformat(timespec="seconds")
                    if r.last_synced_at
                    else "-",
                    r.last_error or "",
                ]
                for r in rows
            ],
            title="Mirror status",
        )


@mirror_app.command("sync")
def sync(
    project: Annotated[
        str | None, typer.Argument(help="WS/PROJECT (default: every project).")
    ] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Sync now: upload missing packs and prompt copies, then the refs manifest."""
    from rich.progress import Progress, TaskID

    with cli_errors(json_out):
        _settings, _engine, service = _service(data_dir)
        targets = [service.project(project)] if project else service.projects()
        results: list[dict[str, object]] = []
        failures = 0
        with Progress(console=make_console(stderr=True), transient=True) as bar:
            for target in targets:
                name = f"{target.workspace}/{target.slug}"
                task = bar.add_task(name, total=None)

                def advance(
                    what: str,
                    done: int,
                    total: int,
                    task: TaskID = task,
                    name: str = name,
                ) -> None:
                    bar.update(
                        task, description=f"{name}: {what}", completed=done, total=total
                    )

                try:
                    result = service.sync(target, progress=advance)
                except DakoraError as exc:
                    failures += 1
                    results.append({"project": name, "ok": False, "error": exc.message})
                    continue
                finally:
                    bar.remove_task(task)
                results.append(
                    {
                        "project": name,
                        "ok": True,
                        "packs_uploaded": result.packs_uploaded,
                        "bytes_uploaded": result.bytes_uploaded,
                        "prompts_written": result.prompts_written,
                        "refs": len(result.refs),
                    }
                )
        if json_out:
            print_json({"results": results})
        else:
            print_table(
                ["project", "result", "packs", "bytes", "prompt copies"],
                [
                    [
                        r["project"],
                        "ok" if r["ok"] else f"failed: {r['error']}",
                        r.get("packs_uploaded", ""),
                        r.get("bytes_uploaded", ""),
                        r.get("prompts_written", ""),
                    ]
                    for r in results
                ],
            )
        if failures:
            raise typer.Exit(1)


@app.command("restore")
def restore(
    project: Annotated[str, typer.Argument(help="WS/PROJECT to rebuild.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Move an existing repository aside (to <repo>.bak-<time>) first.",
        ),
    ] = False,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Rebuild a project's bare repository from the mirror, then reindex it."""
    from dakora.registry.mirror import restore_project

    with cli_errors(json_out):
        _settings, engine, service = _service(data_dir)
        target = service.project(project)
        repo_path = Path(target.repo_path)
        moved_to: str | None = None
        if repo_path.exists() and any(repo_path.iterdir()):
            if not force:
                raise StorageError(
                    f"{repo_path} exists; pass --force to move it aside and restore"
                )
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            moved_to = f"{repo_path}.bak-{stamp}"
            shutil.move(str(repo_path), moved_to)
        manifest = restore_project(service.store, target.prefix, repo_path)
        from dakora.registry.index import index_project

        index_project(engine, target.id, repo_path)
        summary = {
            "project": project,
            "repo": str(repo_path),
            "refs": manifest.refs,
            "packs": len(manifest.packs),
            "previous_repo_moved_to": moved_to,
        }
        if json_out:
            print_json(summary)
        else:
            make_console().print(
                f"restored {project}: {len(manifest.refs)} refs, "
                f"{len(manifest.packs)} packs → {repo_path}; index rebuilt"
            )
            if moved_to:
                make_console().print(f"the previous repository is at {moved_to}")
