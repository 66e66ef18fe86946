"""``dakora admin gc WS/PROJECT``: repack a project's repository into one pack.

Runs under the project's push lock (a PostgreSQL advisory lock when the database is
PostgreSQL, the machine-local lock otherwise), keeps every object (see
``dakora.hooks.repack``) and queues a mirror sync so the new pack is uploaded.
"""

from __future__ import annotations

import os

from dakora.cli.admin_support import (
    DataDir,
    JsonFlag,
    ProjectArg,
    admin_app,
    load_settings,
    open_engine,
    say,
)
from dakora.cli.output import cli_errors, print_json


@admin_app.command("gc")
def gc(
    project: ProjectArg, data_dir: DataDir = None, json_out: JsonFlag = False
) -> None:
    """Repack a project's repository (every pack and loose object into one pack)."""
    from dakora.hooks.advisory_lock import ServerProjectLock
    from dakora.hooks.repack import repack
    from dakora.registry import tenancy
    from dakora.registry.core import NotFound
    from dakora.registry.mirror import queue_sync

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            path = os.path.abspath(target.repo_path)
            if not os.path.isdir(path):
                raise NotFound(
                    f"the repository of {target.full_name} is missing: {path}"
                )
            lock = ServerProjectLock(lambda: engine)
            key = str(target.id) if lock.advisory() is not None else path
            try:
                result = repack(path, lambda: lock.hold(key))
            finally:
                lock.dispose()
            if result.repacked and settings.mirror_backend != "none":
                queue_sync(engine, str(target.id))
        if json_out:
            print_json({"project": target.full_name, **result.to_dict()})
            return
        say(
            f"{target.full_name}: {result.packs_before} pack(s) and "
            f"{result.loose_before} loose object(s) -> {result.packs_after} pack(s) "
            f"in {result.seconds:.2f} s"
        )
