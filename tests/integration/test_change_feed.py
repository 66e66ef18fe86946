"""SQLite's change feed (``change_events``, registry/db/events.py) as the server's
``EventWatcher`` consumes it: a commit by another connection that names nothing (a
push log, a key's ``last_used_at``) drops nothing; ``project:<id>`` drops that
project's ref resolutions and no other project's; ``key:<id>`` the verified keys;
rows pruned before the server read them drop every cache. Real SQLite file, real
repositories pushed with the git CLI, writes from a second engine (another
connection, as a git worker's or the CLI's)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from dakora.api.auth import Authenticator
from dakora.api.events import EventWatcher
from dakora.api.state import ServerState
from dakora.registry.content import DEFAULT_SELECTOR, ContentStore, Selector
from dakora.registry.core.errors import Unauthenticated
from dakora.registry.core.settings import Settings
from dakora.registry.db import (
    change_events,
    make_engine,
    publish,
    publish_project_changed,
    push_events,
    transaction,
    utcnow,
)
from dakora.registry.db import events as feed
from dakora.registry.tenancy import ProjectCache
from dakora.registry.tenancy import keys as k
from dakora.registry.tenancy.projects import create_project
from dakora.registry.tenancy.records import Project
from dakora.registry.tenancy.workspaces import create_workspace

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", key_pepper="pepper-for-tests")


@pytest.fixture
def database(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "dakora.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """The server's engine."""
    engine = make_engine(database)
    yield engine
    engine.dispose()


@pytest.fixture
def other(database: str) -> Iterator[Engine]:
    """Another connection to the same file: a git worker, the CLI."""
    engine = make_engine(database)
    yield engine
    engine.dispose()


def _pushed(engine: Engine, settings: Settings, ws: str, slug: str) -> Project:
    project = create_project(engine, settings, ws, slug)
    work = settings.data_dir.parent / f"work-{ws}-{slug}"
    shutil.copytree(SAMPLE, work)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "s"],
        ["push", "-q", str(project.repo_path), "HEAD:refs/heads/main"],
    ):
        subprocess.run(["git", *args], cwd=work, check=True, capture_output=True)
    return project


class Server:
    """What of a ``ServerState`` the watcher drops: the content store, the
    verified keys, the project records."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.state = ServerState(settings)
        self.state.projects = ProjectCache(engine, settings.data_dir)
        self.state.content = ContentStore(engine)
        self.auth = Authenticator(settings, engine, self.state.projects)
        self.state.auth = self.auth
        self.watcher = EventWatcher(engine, self.state)
        self.watcher.start()
        self.auth.before_request = self.watcher.poll  # as ServerState.start does

    def resolve(self, project_id: str) -> None:
        project = self.state.projects.get(project_id)  # type: ignore[union-attr]
        assert project is not None
        self.state.content.resolve(project, DEFAULT_SELECTOR)  # type: ignore[union-attr]

    def cached(self, project_id: str, selector: Selector = DEFAULT_SELECTOR) -> bool:
        project = self.state.projects.peek(project_id)  # type: ignore[union-attr]
        assert project is not None
        content = self.state.content
        assert content is not None
        return content.cached_resolution(project, selector) is not None

    def close(self) -> None:
        self.watcher.close()
        self.auth.close()


@pytest.fixture
def server(engine: Engine, settings: Settings) -> Iterator[Server]:
    s = Server(engine, settings)
    yield s
    s.close()


@pytest.fixture
def projects(engine: Engine, settings: Settings) -> tuple[Project, Project]:
    create_workspace(engine, "acme")
    return _pushed(engine, settings, "acme", "a"), _pushed(
        engine, settings, "acme", "b"
    )


def _push_log(other: Engine, project: Project) -> None:
    """A commit that names nothing (what a push's log row is)."""
    with transaction(other) as conn:
        conn.execute(
            insert(push_events).values(
                project_id=project.id,
                ref="refs/heads/main",
                old_sha=None,
                new_sha="0" * 40,
                result="ok",
                created_at=utcnow(),
            )
        )


def test_a_push_drops_its_project_only(
    server: Server,
    engine: Engine,
    other: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    a, b = projects
    token = k.create_key(engine, settings.pepper(), a.id, scope="read").plaintext
    bearer = {"authorization": f"Bearer {token}"}
    server.auth.authenticate(bearer)
    head = subprocess.run(
        ["git", "rev-parse", "main"],
        cwd=a.repo_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    by_commit = Selector.of(commit=head)
    for project in (a, b):
        server.resolve(project.id)
    project_a = server.state.projects.peek(a.id)  # type: ignore[union-attr]
    server.state.content.resolve(project_a, by_commit)  # type: ignore[arg-type,union-attr]
    assert server.cached(a.id) and server.cached(b.id)
    verified = server.auth.stats["key_verifications"]

    _push_log(other, a)  # a commit naming nothing: everything stays
    server.auth.authenticate(bearer)
    assert server.cached(a.id) and server.cached(b.id)
    assert server.auth.stats["key_verifications"] == verified

    with transaction(other) as conn:  # a push to a: a's refs, nothing else
        publish_project_changed(conn, a.id)
    server.auth.authenticate(bearer)  # polls first, as every request does
    assert not server.cached(a.id)
    assert server.cached(a.id, by_commit)  # a full sha names the same commit
    assert server.cached(b.id)
    assert server.auth.stats["key_verifications"] == verified

    k.revoke_key(other, a.id, token)  # key:<id>, from the other connection
    with pytest.raises(Unauthenticated):
        server.auth.authenticate(bearer)
    assert server.cached(b.id)


def test_the_servers_own_commits_drop_nothing(
    server: Server, engine: Engine, projects: tuple[Project, Project]
) -> None:
    a, b = projects
    server.resolve(a.id)
    server.resolve(b.id)
    _push_log(engine, a)  # the server's own engine, another pooled connection
    server.watcher.poll()
    assert server.cached(a.id) and server.cached(b.id)


def test_an_all_event_drops_everything(
    server: Server, other: Engine, projects: tuple[Project, Project]
) -> None:
    a, b = projects
    server.resolve(a.id)
    server.resolve(b.id)
    with transaction(other) as conn:
        publish(conn, "all")
    server.watcher.poll()
    assert server.state.projects.peek(a.id) is None  # type: ignore[union-attr]


def test_rows_pruned_unseen_drop_every_cache(
    server: Server,
    other: Engine,
    projects: tuple[Project, Project],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = projects
    server.resolve(a.id)
    server.resolve(b.id)
    monkeypatch.setattr(feed, "CHANGE_EVENTS_KEPT", 3)
    for _ in range(10):  # ten pushes to a, all but the newest 3 pruned unread
        with transaction(other) as conn:
            publish_project_changed(conn, a.id)
    with other.connect() as conn:
        ids = [r.id for r in conn.execute(select(change_events.c.id))]
    assert len(ids) == 3 and ids == sorted(ids)
    server.watcher.poll()  # every cache dropped: the project records too
    assert server.state.projects.peek(a.id) is None  # type: ignore[union-attr]
    assert server.state.projects.peek(b.id) is None  # type: ignore[union-attr]
    # and it follows the feed again from there: the next push to a drops a only
    server.resolve(a.id)
    server.resolve(b.id)
    with transaction(other) as conn:
        publish_project_changed(conn, a.id)
    server.watcher.poll()
    assert not server.cached(a.id) and server.cached(b.id)


def test_postgresql_keeps_notify_and_no_rows(db_url: str) -> None:
    """On PostgreSQL publish() notifies and writes no change_events row; on SQLite
    it writes one row per event."""
    from dakora.registry.db import upgrade

    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with transaction(engine) as conn:
            publish(conn, "key", "k1")
            publish_project_changed(conn, "p1")
        with engine.connect() as conn:
            rows = [r.payload for r in conn.execute(select(change_events.c.payload))]
        expected = (
            [] if engine.dialect.name == "postgresql" else ["key:k1", "project:p1"]
        )
        assert rows == expected
    finally:
        engine.dispose()
