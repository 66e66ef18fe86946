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
    StorageError,
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


# -- what /api/me and the fast path read ------------------------------------------------


def test_a_callers_description(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    now = utcnow()
    new = k.create_key(
        engine,
        settings.pepper(),
        projects[0].id,
        scope="write",
        name="ci",
        expires_days=2,
        now=now,
    )
    caller = auth.authenticate(bearer(new.plaintext))
    assert caller.describe() == {
        "kind": "key",
        "key": {
            "id": new.record.id,
            "name": "ci",
            "display": new.record.display,
            "scopes": ["read", "write"],
            "project_id": projects[0].id,
            "expires_at": (now + timedelta(days=2)).isoformat(),
        },
    }
    forever = auth.authenticate(bearer(key_for(engine, settings, projects[0], "read")))
    described = forever.describe()["key"]
    assert isinstance(described, dict)
    assert described["expires_at"] is None and described["scopes"] == ["read"]
    user = Caller(kind="user", user_id="u1", subject="user_1", email="a@example.com")
    assert user.describe() == {
        "kind": "user",
        "user": {"id": "u1", "subject": "user_1", "email": "a@example.com"},
    }
    assert user.key_id is None and user.memberships == {}
    assert LOCAL_CALLER.describe() == {"kind": "local"}
    assert LOCAL_CALLER.kind == "local" and LOCAL_CALLER.key is None
    assert Caller(kind="user").memberships is not Caller(kind="user").memberships


def test_callers_and_cached_keys_are_frozen() -> None:
    cached = auth_module._CachedKey(LOCAL_CALLER, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cached.expires_ts = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        LOCAL_CALLER.kind = "key"  # type: ignore[misc]


def test_the_caller_records_annotations_resolve() -> None:
    # typing.get_type_hints evaluates the dataclass fields' annotations (strings under
    # ``from __future__ import annotations``), as introspecting tools do
    import typing

    hints = typing.get_type_hints(Caller)
    assert hints["key"] == k.KeyRecord | None
    assert hints["user_id"] == hints["subject"] == hints["email"] == str | None
    assert typing.get_type_hints(auth_module._CachedKey) == {
        "caller": Caller,
        "expires_ts": float | None,
    }


def _user_world(
    engine: Engine, settings: Settings, subject: str = "user_1"
) -> tuple[str, list[Project]]:
    """A provisioned user: owner of a personal workspace (``default`` and ``notes``),
    owner of a team workspace (its ``default`` too), viewer of another team."""
    from dakora.registry.tenancy.users import create_user
    from dakora.registry.tenancy.workspaces import set_member

    user = create_user(engine, email="ada@example.com", external_id=subject)
    team = create_workspace(engine, "team-owned", owner_user_id=user.id)
    create_workspace(engine, "ada", owner_user_id=user.id, kind="personal")
    viewed = create_workspace(engine, "viewed")
    set_member(engine, viewed.id, user.id, "viewer")
    create_workspace(engine, "elsewhere")
    made = [
        create_project(engine, settings, "team-owned", "default"),
        create_project(engine, settings, "ada", "default"),
        create_project(engine, settings, "ada", "notes"),
        create_project(engine, settings, "viewed", "default"),
        create_project(engine, settings, "elsewhere", "default"),
    ]
    assert team.kind == "team"
    return user.id, made


def test_a_users_visible_and_default_projects(
    auth: Authenticator, engine: Engine, settings: Settings
) -> None:
    from dakora.registry.tenancy.users import external_user_roles

    user_id, made = _user_world(engine, settings)
    found = external_user_roles(engine, "user_1")
    assert found is not None
    caller = Caller(
        kind="user", user_id=user_id, subject="user_1", memberships=found[1]
    )
    visible = {p.id for p in auth.visible_projects(caller)}
    assert visible == {p.id for p in made[:4]}  # not "elsewhere"
    default = auth.default_project(caller)  # the personal workspace's, not the team's
    assert default is not None and default.id == made[1].id
    # owner of a team only: no personal default; a viewer of a personal workspace
    team_only = Caller(
        kind="user", memberships={made[0].workspace_id: "owner"}, subject="x"
    )
    assert auth.default_project(team_only) is None
    viewer = Caller(kind="user", memberships={made[1].workspace_id: "viewer"})
    assert auth.default_project(viewer) is None
    for role in ("admin", "member"):  # roles sorting before "owner": not owners
        other = Caller(kind="user", memberships={made[1].workspace_id: role})
        assert auth.default_project(other) is None
    assert {p.id for p in auth.visible_projects(viewer)} == {made[1].id, made[2].id}
    nobody = Caller(kind="user", subject="y")
    assert auth.visible_projects(nobody) == []
    assert auth.default_project(nobody) is None
    assert auth.default_project(LOCAL_CALLER) is None
    assert {p.id for p in auth.visible_projects(LOCAL_CALLER)} == {p.id for p in made}


def test_a_key_whose_project_is_gone_has_no_default(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    mine = projects[0]
    caller = auth.authenticate(bearer(key_for(engine, settings, mine, "read")))
    delete_project(engine, mine.id)
    assert auth.visible_projects(caller) == []
    assert auth.default_project(caller) is None


def test_cached_key_access_answers_from_the_caches_only(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    mine, other = projects
    read_key = key_for(engine, settings, mine, "read")
    write_key = key_for(engine, settings, mine, "write")
    assert auth.cached_key_access(read_key, mine.id, "read") is None  # not verified
    for token in (read_key, write_key):
        caller = auth.authenticate(bearer(token))
        auth.authorize(caller, mine.id, "read")  # the project is cached now
    hits = auth.stats["key_hits"]
    for ref in (mine.id, mine.slug_ref, mine.id.upper()):
        found = auth.cached_key_access(read_key, ref, "read")
        assert found is not None and found.id == mine.id
        found = auth.cached_key_access(write_key, ref, "write")
        assert found is not None and found.id == mine.id
    assert auth.stats["key_hits"] == hits + 6
    assert auth.stats["key_verifications"] == 2
    for ref in (other.id, other.slug_ref, "acme/nope", "nope", "0", "~"):
        assert auth.cached_key_access(write_key, ref, "read") is None
    assert auth.cached_key_access(read_key, mine.slug_ref, "write") is None  # read key
    assert auth.stats["key_hits"] == hits + 6  # refusals count no hit
    # an expired cached entry is not served (the full path then refuses it)
    cached = auth._keys[read_key]
    auth._keys[read_key] = type(cached)(cached.caller, utcnow().timestamp() - 1)
    assert auth.cached_key_access(read_key, mine.id, "read") is None
    auth._keys[read_key] = type(cached)(cached.caller, utcnow().timestamp() + 3600)
    assert auth.cached_key_access(read_key, mine.id, "read") is not None
    # a project that is not cached: no lookup, the full path takes it
    auth.projects.invalidate()
    assert auth.cached_key_access(write_key, mine.id, "read") is None


def test_key_use_is_recorded_at_most_once_a_minute_per_key(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    mine = projects[0]
    token = key_for(engine, settings, mine, "read")
    caller = auth.authenticate(bearer(token))
    assert caller.key is not None
    auth.wait_for_touches()
    assert k.get_key(engine, caller.key.id).last_used_at is not None
    first = auth._touched[caller.key.id]
    auth.authenticate(bearer(token))  # from the cache, a moment later: not again
    auth.authorize(caller, mine.id, "read")
    assert auth.cached_key_access(token, mine.id, "read") is not None
    assert auth._touched[caller.key.id] == first
    # a minute later (in the in-process clock): recorded again
    auth._touched[caller.key.id] = first - auth_module.TOUCH_INTERVAL_S - 1
    auth.authenticate(bearer(token))
    assert auth._touched[caller.key.id] > first
    again = auth._touched[caller.key.id]
    # long ago (a billion seconds: the difference, not some other arithmetic, counts)
    auth._touched[caller.key.id] = again - 10**9
    auth.authenticate(bearer(token))
    assert auth._touched[caller.key.id] >= again
    again = auth._touched[caller.key.id]
    auth._touched[caller.key.id] = again - auth_module.TOUCH_INTERVAL_S - 1
    assert auth.cached_key_access(token, mine.id, "read") is not None
    assert auth._touched[caller.key.id] > again
    # one entry per key
    other = auth.authenticate(bearer(key_for(engine, settings, mine, "read")))
    assert other.key is not None
    assert set(auth._touched) == {caller.key.id, other.key.id}


def test_a_failing_use_record_is_only_logged(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a database without tables: touch_last_used fails with a StorageError
    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    a = Authenticator(settings, broken, ProjectCache(broken, settings.data_dir))
    try:
        with caplog.at_level("WARNING", logger="dakora.api"):
            a._touch("key-1")
        assert [r.getMessage() for r in caplog.records] == [
            "could not record last use of key key-1"
        ]
        exc_info = caplog.records[0].exc_info  # the traceback is logged too
        assert exc_info and exc_info[0] is StorageError
    finally:
        a.close()
        broken.dispose()


def test_one_touch_worker_so_waiting_means_every_write_is_done(
    auth: Authenticator,
) -> None:
    import threading

    done = threading.Event()

    def slow() -> None:
        # long enough for a second worker, if there were one, to answer first
        threading.Event().wait(0.5)
        done.set()

    auth._touch_pool.submit(slow)
    auth.wait_for_touches()
    assert done.is_set()


def test_close_finishes_the_queued_writes_and_later_use_still_works(
    auth: Authenticator,
    engine: Engine,
    settings: Settings,
    projects: tuple[Project, Project],
) -> None:
    import threading

    mine = projects[0]
    pool = auth._touch_pool
    proceed = threading.Event()

    def hold() -> None:
        # keep the one worker busy until close() has shut the pool down (and, had it
        # cancelled the queue, done so), then a little longer
        while not pool._shutdown:  # type: ignore[attr-defined]
            threading.Event().wait(0.01)
        with pool._shutdown_lock:  # type: ignore[attr-defined]
            pass
        proceed.wait(0.2)

    pool.submit(hold)
    tokens = [key_for(engine, settings, mine, "read") for _ in range(2)]
    callers = [auth.authenticate(bearer(t)) for t in tokens]  # two touches queued
    auth.close()
    # close() returned: the worker is gone, and it did the queued writes first
    assert not any(t.is_alive() for t in pool._threads)  # type: ignore[attr-defined]
    for caller in callers:
        assert caller.key is not None
        assert k.get_key(engine, caller.key.id).last_used_at is not None
    proceed.set()
    # after close: requests still authenticate (the touch is skipped), and waiting
    # for touches returns at once
    third = key_for(engine, settings, mine, "read")
    assert auth.authenticate(bearer(third)).kind == "key"
    auth.wait_for_touches()


def test_clerk_mode_needs_an_issuer(engine: Engine, tmp_path: Path) -> None:
    from dakora.registry.core.errors import ConfigError

    settings = Settings(
        data_dir=tmp_path / "data", key_pepper="pepper-for-tests", auth_mode="clerk"
    )
    with pytest.raises(ConfigError) as info:
        Authenticator(settings, engine, ProjectCache(engine, settings.data_dir))
    assert info.value.message == (
        "auth mode 'clerk' needs DAKORA_CLERK_ISSUER (the Clerk Frontend API URL)"
    )


def test_a_clerk_users_caller(engine: Engine, tmp_path: Path) -> None:
    from tests.integration.api_support import JwksEndpoint

    jwks = JwksEndpoint(issuer="https://clerk.auth-rules.invalid")
    settings = Settings(
        data_dir=tmp_path / "data",
        key_pepper="pepper-for-tests",
        auth_mode="clerk",
        clerk_issuer=jwks.issuer,
        clerk_jwks_url=jwks.url,
    )
    a = Authenticator(settings, engine, ProjectCache(engine, settings.data_dir))
    try:
        assert a.before_request is None
        assert a.stats == {"key_hits": 0, "key_verifications": 0}
        user_id, made = _user_world(engine, settings)
        caller = a.authenticate(bearer(jwks.token("user_1", email="other@example.com")))
        assert caller.kind == "user" and caller.user_id == user_id
        assert caller.subject == "user_1"
        assert caller.email == "ada@example.com"  # the stored address first
        assert dict(caller.memberships) == {
            made[0].workspace_id: "owner",
            made[1].workspace_id: "owner",
            made[3].workspace_id: "viewer",
        }
        assert a.authorize(caller, made[2].slug_ref, "write").id == made[2].id
        stranger = a.authenticate(bearer(jwks.token("user_2", email="s@example.com")))
        assert stranger == Caller(
            kind="user", subject="user_2", email="s@example.com"
        )  # not provisioned: no user id, no workspaces
        with pytest.raises(ProjectNotFound):
            a.authorize(stranger, made[2].slug_ref, "read")
        from dakora.registry.tenancy.users import create_user

        create_user(engine, external_id="user_3")  # no email stored: the token's
        third = a.authenticate(bearer(jwks.token("user_3", email="t@example.com")))
        assert third.email == "t@example.com" and third.user_id is not None
        with pytest.raises(Unauthenticated):
            a.authenticate(bearer(jwks.token("user_1", iss="https://evil.invalid")))
    finally:
        a.close()
        jwks.close()
