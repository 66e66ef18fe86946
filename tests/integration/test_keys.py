"""API keys on SQLite and PostgreSQL: creation, verification, scopes, limits, revoke,
expiry and the cheap last-used update."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from dakora.registry.core.errors import (
    BadRequest,
    KeyNotFound,
    LimitExceeded,
    ProjectNotFound,
    Unauthenticated,
)
from dakora.registry.core.settings import Settings
from dakora.registry.db import api_keys, utcnow
from dakora.registry.tenancy import keys as k
from dakora.registry.tenancy.projects import create_project
from dakora.registry.tenancy.records import Project
from dakora.registry.tenancy.workspaces import create_workspace

pytestmark = pytest.mark.integration

PEPPER = b"test-pepper"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def project(db_engine: Engine, settings: Settings) -> Project:
    create_workspace(db_engine, "acme")
    return create_project(db_engine, settings, "acme", "web")


@pytest.fixture
def other_project(db_engine: Engine, settings: Settings) -> Project:
    create_workspace(db_engine, "globex")
    return create_project(db_engine, settings, "globex", "api")


def test_created_key_verifies_and_is_stored_hashed(
    db_engine: Engine, project: Project
) -> None:
    new = k.create_key(db_engine, PEPPER, project.id, scope="read", name="ci")
    assert new.plaintext.startswith("dk_")
    assert len(new.plaintext) >= 3 + 43  # 32 random bytes, base64url
    assert new.record.prefix == new.plaintext[:10]
    assert new.record.suffix == new.plaintext[-4:]
    record = k.verify_key(db_engine, PEPPER, new.plaintext)
    assert record.id == new.record.id
    assert record.project_id == project.id
    assert record.allows("read") and not record.allows("write")
    with db_engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.key_hash)).scalar_one()
    assert new.plaintext not in stored
    assert stored == k.hash_key(PEPPER, new.plaintext)


def test_write_scope_implies_read(db_engine: Engine, project: Project) -> None:
    new = k.create_key(db_engine, PEPPER, project.id, scope="write")
    record = k.verify_key(db_engine, PEPPER, new.plaintext)
    assert record.scopes == frozenset({"read", "write"})
    assert record.to_dict()["scope"] == "write"


@pytest.mark.parametrize("scope", ["admin", "", "read,root"])
def test_unknown_scope_is_refused(
    db_engine: Engine, project: Project, scope: str
) -> None:
    with pytest.raises(BadRequest):
        k.create_key(db_engine, PEPPER, project.id, scope=scope)


def test_unknown_revoked_expired_and_wrong_pepper_all_look_the_same(
    db_engine: Engine, project: Project
) -> None:
    now = utcnow()
    revoked = k.create_key(db_engine, PEPPER, project.id)
    k.revoke_key(db_engine, project.id, revoked.record.id)
    expired = k.create_key(
        db_engine, PEPPER, project.id, expires_at=now + timedelta(days=1)
    )
    live = k.create_key(db_engine, PEPPER, project.id)
    messages = set()
    for plaintext, pepper, when in [
        ("dk_" + "x" * 43, PEPPER, now),
        ("not-a-key", PEPPER, now),
        ("", PEPPER, now),
        (revoked.plaintext, PEPPER, now),
        (expired.plaintext, PEPPER, now + timedelta(days=2)),
        (live.plaintext, b"another-pepper", now),
    ]:
        with pytest.raises(Unauthenticated) as info:
            k.verify_key(db_engine, pepper, plaintext, now=when)
        messages.add(info.value.message)
    assert messages == {"invalid API key"}
    # …and the expiring key works until it expires.
    assert k.verify_key(db_engine, PEPPER, expired.plaintext, now=now).id
    assert k.verify_key(db_engine, PEPPER, live.plaintext).id == live.record.id


def test_expires_days(db_engine: Engine, project: Project) -> None:
    now = utcnow()
    new = k.create_key(db_engine, PEPPER, project.id, expires_days=3, now=now)
    assert new.record.expires_at == now + timedelta(days=3)
    k.verify_key(db_engine, PEPPER, new.plaintext, now=now + timedelta(days=2))
    with pytest.raises(Unauthenticated):
        k.verify_key(db_engine, PEPPER, new.plaintext, now=now + timedelta(days=3))
    with pytest.raises(BadRequest):
        k.create_key(db_engine, PEPPER, project.id, expires_days=0)


def test_at_most_ten_active_keys_per_project(
    db_engine: Engine, project: Project, other_project: Project
) -> None:
    created = [k.create_key(db_engine, PEPPER, project.id) for _ in range(10)]
    with pytest.raises(LimitExceeded, match="10 active API keys") as info:
        k.create_key(db_engine, PEPPER, project.id)
    assert info.value.http_status == 400
    # other projects are not affected
    k.create_key(db_engine, PEPPER, other_project.id)
    # revoking one frees a slot
    k.revoke_key(db_engine, project.id, created[0].record.prefix)
    k.create_key(db_engine, PEPPER, project.id)
    assert len(k.list_keys(db_engine, project.id)) == 11
    assert len(k.list_keys(db_engine, project.id, include_inactive=False)) == 10


def test_expired_keys_do_not_count_against_the_limit(
    db_engine: Engine, project: Project
) -> None:
    now = utcnow()
    for _ in range(3):
        k.create_key(
            db_engine, PEPPER, project.id, expires_at=now + timedelta(minutes=1)
        )
    later = now + timedelta(minutes=2)
    k.create_key(db_engine, PEPPER, project.id, max_active=1, now=later)


def test_revoke_by_id_prefix_or_plaintext_and_only_in_its_project(
    db_engine: Engine, project: Project, other_project: Project
) -> None:
    a = k.create_key(db_engine, PEPPER, project.id)
    b = k.create_key(db_engine, PEPPER, project.id)
    c = k.create_key(db_engine, PEPPER, project.id)
    with pytest.raises(KeyNotFound):
        k.revoke_key(db_engine, other_project.id, a.record.id)
    assert k.revoke_key(db_engine, project.id, a.record.id).revoked_at is not None
    assert k.revoke_key(db_engine, project.id, b.record.prefix).id == b.record.id
    assert k.revoke_key(db_engine, project.id, c.plaintext).id == c.record.id
    # idempotent
    again = k.revoke_key(db_engine, project.id, a.record.id)
    assert again.status() == "revoked"
    with pytest.raises(KeyNotFound):
        k.revoke_key(db_engine, project.id, "no-such-key")
    with pytest.raises(BadRequest):
        k.revoke_key(db_engine, project.id, "  ")
    for new in (a, b, c):
        with pytest.raises(Unauthenticated):
            k.verify_key(db_engine, PEPPER, new.plaintext)


def test_ambiguous_short_prefix_is_refused(db_engine: Engine, project: Project) -> None:
    k.create_key(db_engine, PEPPER, project.id)
    k.create_key(db_engine, PEPPER, project.id)
    with pytest.raises(BadRequest, match="matches 2 keys"):
        k.revoke_key(db_engine, project.id, "dk_")


def test_touch_last_used_writes_at_most_once_a_minute(
    db_engine: Engine, project: Project
) -> None:
    new = k.create_key(db_engine, PEPPER, project.id)
    now = utcnow()
    assert k.touch_last_used(db_engine, new.record.id, now=now) is True
    assert not k.touch_last_used(
        db_engine, new.record.id, now=now + timedelta(seconds=30)
    )
    assert k.get_key(db_engine, new.record.id).last_used_at == now
    assert k.touch_last_used(db_engine, new.record.id, now=now + timedelta(seconds=61))
    assert k.get_key(db_engine, new.record.id).last_used_at == now + timedelta(
        seconds=61
    )


def test_key_for_unknown_project(db_engine: Engine) -> None:
    with pytest.raises(ProjectNotFound):
        k.create_key(db_engine, PEPPER, "00000000-0000-0000-0000-000000000000")


def test_get_key_unknown(db_engine: Engine) -> None:
    with pytest.raises(KeyNotFound):
        k.get_key(db_engine, "nope")


def test_concurrent_creates_never_pass_the_limit(
    db_engine: Engine, project: Project
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_: int) -> str:
        try:
            k.create_key(db_engine, PEPPER, project.id, max_active=5)
            return "ok"
        except LimitExceeded:
            return "limit"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(12)))
    assert results.count("ok") == 5
    assert results.count("limit") == 7
    assert len(k.list_keys(db_engine, project.id)) == 5
