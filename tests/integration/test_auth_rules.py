"""The access rules of ``dakora.api.auth`` rule by rule, on a real SQLite database:
credentials parsing, the verified-key cache, a key seeing only its own project, read
vs write scope, workspace roles of users, and the one 404 for "missing" and "not
yours" (mutation-tested, docs/mutation.md)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from dakora.api import auth as auth_module
from dakora.api.auth import (
    INVALID_KEY,
    LOCAL_CALLER,
    MISSING_CREDENTIALS,
    Authenticator,
    Caller,
    credentials,
)
from dakora.registry.core.errors import (
    AccessDenied,
    BadRequest,
    ProjectNotFound,
    Unauthenticated,
)
from dakora.registry.core.settings import Settings
from dakora.registry.db import api_keys, make_engine, utcnow
from dakora.registry.tenancy import ProjectCache
from dakora.registry.tenancy import keys as k
from dakora.registry.tenancy.projects import create_project, delete_project
from dakora.registry.tenancy.records import Project
from dakora.registry.tenancy.workspaces import create_workspace

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", key_pepper="pepper-for-tests")


@pytest.fixture
def engine(_sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: the rules are in-process (key storage on both backends is
    tests/integration/test_keys.py)."""
    path = tmp_path / "dakora.db"
    shutil.copyfile(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def projects(engine: Engine, settings: Settings) -> tuple[Project, Project]:
    create_workspace(engine, "acme")
    create_workspace(engine, "globex")
    return (
        create_project(engine, settings, "acme", "web"),
        create_project(engine, settings, "globex", "api"),
    )


@pytest.fixture
def auth(engine: Engine, settings: Settings) -> Iterator[Authenticator]:
    a = Authenticator(settings, engine, ProjectCache(engine, settings.data_dir))
    yield a
    a.close()


def key_for(engine: Engine, settings: Settings, project: Project, scope: str) -> str:
    return k.create_key(engine, settings.pepper(), project.id, scope=scope).plaintext


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- credentials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (None, True)),
        ({"x-api-key": " dk_abc "}, ("dk_abc", True)),
        ({"x-api-key": "dk_abc", "authorization": "Bearer other"}, ("dk_abc", True)),
        ({"x-api-key": "", "authorization": "Bearer t"}, ("t", True)),
        ({"authorization": ""}, (None, True)),
        ({"authorization": "Bearer tok "}, ("tok", True)),
        ({"authorization": "Bearer   "}, (None, True)),
        ({"authorization": "bearer tok"}, ("tok", True)),
        ({"authorization": "  BEARER  tok "}, ("tok", True)),
        ({"authorization": "BEARER"}, (None, True)),
        ({"authorization": "Basic dXNlcjpwdw=="}, (None, False)),
        ({"authorization": "Token tok"}, (None, False)),
    ],
)
def test_credentials(
    headers: dict[str, str], expected: tuple[str | None, bool]
) -> None:
    assert credentials(headers) == expected


def test_missing_and_malformed_credentials(auth: Authenticator) -> None:
    with pytest.raises(Unauthenticated) as info:
        auth.authenticate({})
    assert info.value.message == MISSING_CREDENTIALS
    with pytest.raises(Unauthenticated) as info:
        auth.authenticate({"authorization": "Basic x"})
    assert "unsupported Authorization scheme" in info.value.message
    with pytest.raises(Unauthenticated) as info:  # not a key, and no Clerk configured
        auth.authenticate(bearer("eyJhbGciOi.not.a-key"))
    assert info.value.message == INVALID_KEY


def test_a_key_authenticates_and_is_cached(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    token = key_for(engine, settings, projects[0], "read")
    caller = auth.authenticate(bearer(token))
    assert caller.kind == "key" and caller.key is not None
    assert caller.key.project_id == projects[0].id
    assert caller.key_id == caller.key.id
    assert auth.stats == {"key_hits": 0, "key_verifications": 1}
    assert auth.authenticate({"x-api-key": token}) is caller
    assert auth.stats == {"key_hits": 1, "key_verifications": 1}


def test_a_refused_key_is_remembered_and_a_revoked_one_refused_after_invalidate(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    bad = "dk_" + "x" * 43
    for _ in range(2):
        with pytest.raises(Unauthenticated) as info:
            auth.authenticate(bearer(bad))
        assert info.value.message == INVALID_KEY
    assert auth.stats["key_verifications"] == 1  # the second refusal came from memory
    token = key_for(engine, settings, projects[0], "write")
    auth.authenticate(bearer(token))
    k.revoke_key(engine, projects[0].id, token)
    auth.authenticate(bearer(token))  # still cached until invalidated
    auth.invalidate()
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer(token))


def test_a_cached_key_stops_at_its_expiry(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    new = k.create_key(engine, settings.pepper(), projects[0].id, expires_days=1)
    auth.authenticate(bearer(new.plaintext))
    auth.authenticate(bearer(new.plaintext))  # not expired yet: from the cache
    assert auth.stats == {"key_hits": 1, "key_verifications": 1}
    # the cached entry carries expires_at: move it into the past, as time would
    token = new.plaintext
    cached = auth._keys[token]
    auth._keys[token] = type(cached)(cached.caller, utcnow().timestamp() - 1)
    with pytest.raises(Unauthenticated) as info:
        auth.authenticate(bearer(token))
    assert info.value.message == INVALID_KEY
    assert token not in auth._keys


def test_an_expired_key_never_authenticates(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    new = k.create_key(engine, settings.pepper(), projects[0].id, expires_days=1)
    with engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == new.record.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer(new.plaintext))


# -- may they -------------------------------------------------------------------------


def test_a_key_sees_only_its_own_project(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    mine, other = projects
    caller = auth.authenticate(bearer(key_for(engine, settings, mine, "write")))
    for ref in (mine.id, mine.slug_ref, mine.id.upper()):
        assert auth.authorize(caller, ref, "read").id == mine.id
        assert auth.authorize(caller, ref, "write").id == mine.id
    # refs sorting before and after every id: "!=" must not become an ordering
    for ref in (other.id, other.slug_ref, "acme/nope", "nope", "0", "~"):
        with pytest.raises(ProjectNotFound) as info:
            auth.authorize(caller, ref, "read")
        assert info.value.message == f"project {ref!r} not found"
    assert [p.id for p in auth.visible_projects(caller)] == [mine.id]
    default = auth.default_project(caller)
    assert default is not None and default.id == mine.id


def test_a_read_key_cannot_write(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    mine = projects[0]
    caller = auth.authenticate(bearer(key_for(engine, settings, mine, "read")))
    assert auth.authorize(caller, mine.slug_ref, "read").id == mine.id
    with pytest.raises(AccessDenied) as info:
        auth.authorize(caller, mine.slug_ref, "write")
    assert "read-only" in info.value.message


@pytest.mark.parametrize(
    ("role", "reads", "writes"),
    [
        ("owner", True, True),
        ("admin", True, True),
        ("member", True, True),
        ("viewer", True, False),
        ("guest", False, False),
        (None, False, False),
    ],
)
def test_a_users_workspace_role(
    auth: Authenticator,
    projects: tuple[Project, Project],
    role: str | None,
    reads: bool,
    writes: bool,
) -> None:
    mine, other = projects
    memberships = {mine.workspace_id: role} if role else {}
    caller = Caller(kind="user", subject="u", memberships=memberships)
    for need, allowed in (("read", reads), ("write", writes)):
        if allowed:
            assert auth.authorize(caller, mine.slug_ref, need).id == mine.id  # type: ignore[arg-type]
        elif need == "write" and reads:
            with pytest.raises(AccessDenied) as denied:
                auth.authorize(caller, mine.slug_ref, "write")
            assert repr(role) in denied.value.message
        else:
            with pytest.raises(ProjectNotFound):
                auth.authorize(caller, mine.slug_ref, need)  # type: ignore[arg-type]
    with pytest.raises(ProjectNotFound):  # another workspace's project: not found
        auth.authorize(caller, other.slug_ref, "read")
    with pytest.raises(ProjectNotFound):
        auth.authorize(caller, "acme/nope", "read")


def test_the_local_developer_sees_every_existing_project(
    auth: Authenticator, projects: tuple[Project, Project]
) -> None:
    for project in projects:
        assert auth.authorize(LOCAL_CALLER, project.slug_ref, "write").id == project.id
    with pytest.raises(ProjectNotFound):
        auth.authorize(LOCAL_CALLER, "acme/nope", "read")
    assert {p.id for p in auth.visible_projects(LOCAL_CALLER)} == {
        p.id for p in projects
    }


def test_auth_mode_none_lets_everyone_in_as_the_local_developer(
    engine: Engine, tmp_path: Path, projects: tuple[Project, Project]
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", key_pepper="pepper-for-tests", auth_mode="none"
    )
    a = Authenticator(settings, engine, ProjectCache(engine, settings.data_dir))
    try:
        assert a.authenticate({}) is LOCAL_CALLER
        assert a.authenticate({"authorization": "Basic x"}) is LOCAL_CALLER
        assert a.authenticate(bearer("not-a-key")) is LOCAL_CALLER
        token = key_for(engine, settings, projects[0], "read")
        caller = a.authenticate(bearer(token))  # a key still counts as that key
        assert caller.kind == "key"
        with pytest.raises(AccessDenied):
            a.authorize(caller, projects[0].slug_ref, "write")
    finally:
        a.close()


def test_before_request_runs_first(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    token = key_for(engine, settings, projects[0], "read")
    auth.authenticate(bearer(token))
    calls: list[int] = []
    auth.before_request = lambda: (calls.append(1), auth.invalidate())  # type: ignore[func-returns-value]
    auth.authenticate(bearer(token))
    assert calls == [1]
    assert auth.stats["key_verifications"] == 2  # the hook dropped the cache first


def test_the_key_caches_are_bounded(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a bound above 256: ``len(...) is LIMIT`` would never hold (no small-int cache)
    monkeypatch.setattr(auth_module, "MAX_BAD_KEYS", 300)
    monkeypatch.setattr(auth_module, "MAX_CACHED_KEYS", 300)
    auth._bad = {f"dk_filler{i}": None for i in range(299)}
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer("dk_bad1" + "x" * 40))
    assert len(auth._bad) == 300  # one below the bound: kept, then the new one
    with pytest.raises(Unauthenticated):
        auth.authenticate(bearer("dk_bad2" + "x" * 40))
    assert list(auth._bad) == ["dk_bad2" + "x" * 40]  # full: emptied first
    first, second = (key_for(engine, settings, projects[0], "read") for _ in range(2))
    filler = auth_module._CachedKey(LOCAL_CALLER, None)
    auth._keys = {f"dk_filler{i}": filler for i in range(299)}
    auth.authenticate(bearer(first))
    assert len(auth._keys) == 300 and first in auth._keys
    auth.authenticate(bearer(second))
    assert list(auth._keys) == [second]


# -- the key helpers a request goes through ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "looks"),
    [
        ("dk_" + "a" * 17, True),  # 20 characters: the shortest
        ("dk_" + "a" * 16, False),
        ("dk_" + "a" * 197, True),  # 200: the longest
        ("dk_" + "a" * 198, False),
        ("xk_" + "a" * 40, False),
        ("DK_" + "a" * 40, False),
        ("", False),
    ],
)
def test_looks_like_key(value: str, looks: bool) -> None:
    assert k.looks_like_key(value) is looks


def test_hash_key_is_hmac_sha256_under_the_pepper() -> None:
    expected = hmac.new(b"p", b"dk_x", hashlib.sha256).hexdigest()
    assert k.hash_key(b"p", "dk_x") == expected
    assert k.hash_key(b"q", "dk_x") != expected


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("read", {"read"}),
        ("write", {"read", "write"}),
        ("read,write", {"read", "write"}),
        (" read  write ", {"read", "write"}),
        (["write"], {"read", "write"}),
        (("read",), {"read"}),
    ],
)
def test_normalize_scopes(scope: str | list[str], expected: set[str]) -> None:
    assert k.normalize_scopes(scope) == frozenset(expected)


@pytest.mark.parametrize("scope", ["", " , ", []])
def test_a_key_needs_a_scope(scope: str | list[str]) -> None:
    with pytest.raises(BadRequest) as info:
        k.normalize_scopes(scope)
    assert info.value.message == "a key needs a scope: read or write"


def test_verify_keys_moment_is_keyword_only(
    engine: Engine, settings: Settings, projects: tuple[Project, Project]
) -> None:
    new = k.create_key(engine, settings.pepper(), projects[0].id)
    with pytest.raises(TypeError):
        k.verify_key(engine, settings.pepper(), new.plaintext, utcnow())  # type: ignore[misc]


def test_a_keys_status_at_a_given_moment(
    engine: Engine, settings: Settings, projects: tuple[Project, Project]
) -> None:
    now = utcnow()
    new = k.create_key(
        engine, settings.pepper(), projects[0].id, expires_days=1, now=now
    )
    record = new.record
    later = now + timedelta(days=1)
    assert record.is_active(now) and record.status(now) == "active"
    assert not record.is_active(later) and record.status(later) == "expired"
    assert record.is_active(later - timedelta(microseconds=1))
    never = dataclasses.replace(record, expires_at=None)
    assert never.is_active(later) and never.status(later) == "active"
    revoked = dataclasses.replace(record, revoked_at=now)
    assert not revoked.is_active(now) and revoked.status(now) == "revoked"
    assert revoked.status(later) == "revoked"  # revoked wins over expired
    assert record.is_active() and record.status() == "active"  # now: the clock
    with pytest.raises(Unauthenticated) as info:
        k.verify_key(engine, settings.pepper(), new.plaintext, now=later)
    assert info.value.message == k.INVALID_KEY_MESSAGE
    assert (
        k.verify_key(engine, settings.pepper(), f"  {new.plaintext}\n").id == record.id
    )
    for bad in ("dk_short", new.plaintext + "x", "x" + new.plaintext[1:]):
        with pytest.raises(Unauthenticated) as info:
            k.verify_key(engine, settings.pepper(), bad)
        assert info.value.message == k.INVALID_KEY_MESSAGE


def test_a_key_whose_project_is_gone_sees_nothing(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    mine = projects[0]
    caller = auth.authenticate(bearer(key_for(engine, settings, mine, "write")))
    delete_project(engine, mine.id)
    auth.projects.invalidate()
    for ref in (mine.id, mine.slug_ref):
        with pytest.raises(ProjectNotFound):
            auth.authorize(caller, ref, "read")


def test_a_key_stops_counting_as_active_at_its_expiry_instant(
    engine: Engine, settings: Settings, projects: tuple[Project, Project]
) -> None:
    now = utcnow()
    pid = projects[0].id
    new = k.create_key(engine, settings.pepper(), pid, expires_days=1, now=now)
    k.create_key(engine, settings.pepper(), pid, now=now)  # never expires
    at = now + timedelta(days=1)
    before = at - timedelta(microseconds=1)

    def active(moment: object) -> int:
        return len(k.list_keys(engine, pid, include_inactive=False, now=moment))  # type: ignore[arg-type]

    assert active(before) == 2
    assert active(at) == 1
    assert len(k.list_keys(engine, pid, now=at)) == 2  # inactive ones listed too
    with pytest.raises(Unauthenticated):
        k.verify_key(engine, settings.pepper(), new.plaintext, now=at)
    assert k.verify_key(engine, settings.pepper(), new.plaintext, now=before)
