"""The mirror outbox: what a push leaves behind for the mirror, and who works it off.

A push (or an import, or an API write) calls ``enqueue`` inside its own transaction,
so the outbox row exists exactly when the push does. ``MirrorService.run_pending``
syncs every project with due rows; a failure (Blob down) records the error and backs
off, never touching the push path. ``MirrorWorker`` runs that loop in a thread of the
server; ``notify()`` wakes it right after a push so the mirror lag stays small.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update

from dakora.registry.core import BackgroundLoop, DakoraError, ProjectNotFound
from dakora.registry.db import (
    mirror_outbox,
    projects,
    read,
    refs,
    transaction,
    utcnow,
    workspaces,
)
from dakora.registry.mirror.backends import BlobStore
from dakora.registry.mirror.sync import (
    MirrorBehind,
    Progress,
    SyncResult,
    sync_project,
)

KIND_SYNC = "sync"
MAX_BACKOFF_SECONDS = 300


def enqueue(
    conn: Connection,
    project_id: str,
    versions: Iterable[tuple[str, str, str]] = (),
) -> None:
    """Queue a mirror sync of the project (call inside the writer's transaction).

    ``versions``: (prompt id, version, blob sha) to publish as readable copies.
    """
    conn.execute(
        mirror_outbox.insert().values(
            project_id=project_id,
            kind=KIND_SYNC,
            payload={"versions": [list(v) for v in versions]},
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )


def queue_sync(engine: Engine, project_id: str) -> None:
    """Queue a mirror sync of the project in a transaction of its own (after a
    repack: the new pack must reach the mirror)."""
    with transaction(engine) as conn:
        enqueue(conn, project_id)


@dataclass(frozen=True)
class OutboxBacklog:
    """The whole outbox at one moment: rows not mirrored yet, and how long the
    oldest of them has waited (0 when none is pending)."""

    pending: int
    lag_seconds: float


def outbox_backlog(engine: Engine) -> OutboxBacklog:
    """One query over every project (the server's ``/metrics`` reads it per scrape;
    the ``done_at, next_attempt_at`` index covers it)."""
    with read(engine) as conn:
        count, oldest = conn.execute(
            select(func.count(), func.min(mirror_outbox.c.created_at)).where(
                mirror_outbox.c.done_at.is_(None)
            )
        ).one()
    lag = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return OutboxBacklog(pending=int(count), lag_seconds=max(lag, 0.0))


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at five minutes."""
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


@dataclass(frozen=True)
class ProjectRow:
    id: str
    workspace: str
    slug: str
    repo_path: str

    @property
    def prefix(self) -> str:
        return f"{self.workspace}/{self.slug}/"


@dataclass(frozen=True)
class MirrorStatus:
    project: str  # workspace/slug
    pending: int
    oldest_pending_at: datetime | None
    lag_seconds: float
    attempts: int
    last_error: str | None
    last_synced_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "pending": self.pending,
            "oldest_pending_at": (
                self.oldest_pending_at.isoformat() if self.oldest_pending_at else None
            ),
            "lag_seconds": round(self.lag_seconds, 3),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "last_synced_at": (
                self.last_synced_at.isoformat() if self.last_synced_at else None
            ),
        }


def _project_query() -> Any:
    return select(
        projects.c.id,
        workspaces.c.slug.label("workspace"),
        projects.c.slug,
        projects.c.repo_path,
    ).join(workspaces, workspaces.c.id == projects.c.workspace_id)


def _row(r: Any) -> ProjectRow:
    return ProjectRow(r.id, r.workspace, r.slug, r.repo_path)


class MirrorService:
    """Syncs projects to the store and settles their outbox rows.

    ``repo_path_for`` maps a project to this process's repository (replicas keep
    their own copies under their own data dir); default: the path in the database.
    """

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        *,
        repo_path_for: Callable[[ProjectRow], Path] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.repo_path_for = repo_path_for or (lambda p: Path(p.repo_path))

    def project(self, ref: str) -> ProjectRow:
        """A project by ``workspace/slug`` or id."""
        query = _project_query()
        if "/" in ref:
            ws, slug = ref.split("/", 1)
            query = query.where(workspaces.c.slug == ws, projects.c.slug == slug)
        else:
            query = query.where(projects.c.id == ref)
        with read(self.engine) as conn:
            found = conn.execute(query).first()
        if found is None:
            raise ProjectNotFound(f"no project {ref!r}")
        return _row(found)

    def projects(self) -> list[ProjectRow]:
        with read(self.engine) as conn:
            rows = conn.execute(
                _project_query().order_by(workspaces.c.slug, projects.c.slug)
            ).all()
        return [_row(r) for r in rows]

    def _index_refs(self, project_id: str) -> Callable[[], dict[str, str]]:
        def lookup() -> dict[str, str]:
            with read(self.engine) as conn:
                rows = conn.execute(
                    select(refs.c.name, refs.c.sha).where(
                        refs.c.project_id == project_id
                    )
                ).all()
            return {r.name: r.sha for r in rows}

        return lookup

    def sync(
        self, project: ProjectRow, *, progress: Progress | None = None
    ) -> SyncResult:
        """Sync one project now and settle its pending outbox rows either way."""
        with read(self.engine) as conn:
            pending = conn.execute(
                select(mirror_outbox.c.id, mirror_outbox.c.payload).where(
                    mirror_outbox.c.project_id == project.id,
                    mirror_outbox.c.done_at.is_(None),
                )
            ).all()
        versions: dict[tuple[str, str], str] = {}
        for row in pending:
            for pid, version, blob in (row.payload or {}).get("versions", []):
                versions[(pid, version)] = blob
        ids = [r.id for r in pending]
        repo_path = self.repo_path_for(project)
        if not (repo_path / "objects").is_dir():
            raise MirrorBehind(f"no local repository of {project.prefix.rstrip('/')}")
        try:
            result = sync_project(
                self.store,
                project.prefix,
                repo_path,
                prompt_versions=[(p, v, b) for (p, v), b in versions.items()],
                expected_refs=self._index_refs(project.id),
                progress=progress,
            )
        except MirrorBehind:
            raise  # another replica holds the newer repository: its worker mirrors it
        except (DakoraError, OSError) as exc:
            self._failed(ids, str(exc))
            raise
        if ids:
            with transaction(self.engine) as conn:
                conn.execute(
                    update(mirror_outbox)
                    .where(mirror_outbox.c.id.in_(ids))
                    .values(done_at=utcnow(), last_error=None)
                )
        return result

    def _failed(self, ids: list[int], error: str) -> None:
        if not ids:
            return
        with transaction(self.engine) as conn:
            for row in conn.execute(
                select(mirror_outbox.c.id, mirror_outbox.c.attempts).where(
                    mirror_outbox.c.id.in_(ids)
                )
            ).all():
                attempts = row.attempts + 1
                conn.execute(
                    update(mirror_outbox)
                    .where(mirror_outbox.c.id == row.id)
                    .values(
                        attempts=attempts,
                        next_attempt_at=utcnow() + backoff(attempts),
                        last_error=error[:2000],
                    )
                )

    def due_projects(self) -> list[ProjectRow]:
        with read(self.engine) as conn:
            ids = {
                r.project_id
                for r in conn.execute(
                    select(mirror_outbox.c.project_id).where(
                        mirror_outbox.c.done_at.is_(None),
                        mirror_outbox.c.next_attempt_at <= utcnow(),
                    )
                ).all()
            }
            if not ids:
                return []
            rows = conn.execute(_project_query().where(projects.c.id.in_(ids))).all()
        return [_row(r) for r in rows]

    def run_pending(self) -> tuple[int, int]:
        """Sync every project with due rows. Returns (synced, failed)."""
        ok = failed = 0
        for project in self.due_projects():
            try:
                self.sync(project)
                ok += 1
            except MirrorBehind:
                continue  # not this replica's to mirror (its repository is behind)
            except (DakoraError, OSError):
                failed += 1
        return ok, failed

    def status(self) -> list[MirrorStatus]:
        now = utcnow()
        out: list[MirrorStatus] = []
        with read(self.engine) as conn:
            for project in self.projects():
                pending = conn.execute(
                    select(
                        func.count(),
                        func.min(mirror_outbox.c.created_at),
                        func.max(mirror_outbox.c.attempts),
                    ).where(
                        mirror_outbox.c.project_id == project.id,
                        mirror_outbox.c.done_at.is_(None),
                    )
                ).one()
                last_error = conn.execute(
                    select(mirror_outbox.c.last_error)
                    .where(
                        and_(
                            mirror_outbox.c.project_id == project.id,
                            mirror_outbox.c.done_at.is_(None),
                            mirror_outbox.c.last_error.is_not(None),
                        )
                    )
                    .order_by(mirror_outbox.c.id.desc())
                    .limit(1)
                ).scalar()
                last_done = conn.execute(
                    select(func.max(mirror_outbox.c.done_at)).where(
                        mirror_outbox.c.project_id == project.id
                    )
                ).scalar()
                oldest = pending[1]
                out.append(
                    MirrorStatus(
                        project=f"{project.workspace}/{project.slug}",
                        pending=int(pending[0]),
                        oldest_pending_at=oldest,
                        lag_seconds=(now - oldest).total_seconds() if oldest else 0.0,
                        attempts=int(pending[2] or 0),
                        last_error=last_error,
                        last_synced_at=last_done,
                    )
                )
        return out


class MirrorWorker(BackgroundLoop):
    """Works the outbox off in a daemon thread until ``stop()``; ``notify()`` wakes
    it right after a push."""

    def __init__(self, service: MirrorService, *, interval: float = 1.0) -> None:
        self.service = service

        def work() -> bool:
            service.run_pending()
            return False

        super().__init__(
            work,
            name="dakora-mirror",
            log=logging.getLogger("dakora.mirror"),
            interval=interval,
            stop_timeout=10.0,
        )
