"""``create_key`` counts a project's active keys under a lock of the project row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` serialises
writers already), so two creates can never both pass the limit. Here the lock is held
by another transaction that has just added the project's last allowed key: the create
must wait for it and then see that key (mutation-tested, docs/mutation.md)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from dakora.registry.core.errors import LimitExceeded
from dakora.registry.core.settings import Settings
from dakora.registry.db import api_keys, projects, utcnow
from dakora.registry.tenancy import keys as k
from dakora.registry.tenancy.projects import create_project
from dakora.registry.tenancy.workspaces import create_workspace

pytestmark = pytest.mark.integration

PEPPER = b"test-pepper"


@pytest.mark.parametrize("db_engine", ["postgresql"], indirect=True)
def test_create_key_waits_for_the_project_lock_and_counts_after_it(
    db_engine: Engine, tmp_path: Path
) -> None:
    create_workspace(db_engine, "acme")
    project = create_project(db_engine, Settings(data_dir=tmp_path / "d"), "acme", "w")
    outcome: dict[str, object] = {}

    def create() -> None:
        try:
            outcome["key"] = k.create_key(db_engine, PEPPER, project.id, max_active=1)
        except LimitExceeded as exc:
            outcome["refused"] = exc

    with db_engine.connect() as holder, db_engine.connect() as watcher:
        with holder.begin():
            holder.execute(
                select(projects.c.id)
                .where(projects.c.id == project.id)
                .with_for_update()
            )
            holder.execute(
                api_keys.insert().values(
                    id=str(uuid.uuid4()),
                    project_id=project.id,
                    name="",
                    scopes="read",
                    key_hash="0" * 64,
                    prefix="dk_0000000",
                    suffix="0000",
                    created_at=utcnow(),
                )
            )
            worker = threading.Thread(target=create)
            worker.start()
            # until the create waits for a lock (or, without one, has finished)
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            while worker.is_alive() and not watcher.execute(waiting).scalar_one():
                watcher.rollback()
                threading.Event().wait(0.01)
            watcher.rollback()
        worker.join()
    assert "key" not in outcome
    refused = outcome["refused"]
    assert isinstance(refused, LimitExceeded)
    assert refused.details == {"limit": 1}
