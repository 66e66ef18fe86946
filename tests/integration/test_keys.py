"""API keys on SQLite and PostgreSQL: creation, verification, scopes, limits, revoke,
expiry and the cheap last-used update."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from dakora.registry.core.errors import (
    BadRequest,
    KeyNotFound,
    LimitExceeded,
    ProjectNotFound,
    StorageError,
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


# -- the storage rules one by one (mutation-tested, docs/mutation.md) ------------------


def test_a_key_is_dk_and_32_random_bytes(db_engine: Engine, project: Project) -> None:
    new = k.create_key(db_engine, PEPPER, project.id)
    assert len(new.plaintext) == 3 + 43  # base64url of 32 bytes, no padding
    assert k.looks_like_key(new.plaintext)
    assert new.record.display == new.plaintext[:10] + "…" + new.plaintext[-4:]
    assert len({k.generate_key() for _ in range(20)}) == 20
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.plaintext = "dk_other"  # type: ignore[misc]


def test_the_stored_row_and_the_record_read_back(
    db_engine: Engine, project: Project
) -> None:
    now = utcnow()
    expires = now + timedelta(days=2)
    new = k.create_key(
        db_engine,
        PEPPER,
        project.id,
        scope="write",
        name="  deploy bot  ",
        expires_at=expires,
        now=now,
    )
    with db_engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    assert row.scopes == "read write"  # VALID_SCOPES order, space-separated
    assert row.name == "deploy bot"
    assert (row.prefix, row.suffix) == (new.plaintext[:10], new.plaintext[-4:])
    assert row.created_at == now and row.expires_at == expires
    assert row.revoked_at is None and row.last_used_at is None
    assert row.user_id is None
    stored = k.get_key(db_engine, new.record.id)
    assert stored == new.record  # every field, as create_key returned it
    assert stored.scopes == frozenset({"read", "write"})
    read = k.create_key(db_engine, PEPPER, project.id, now=now)
    with db_engine.connect() as conn:
        scopes = conn.execute(
            select(api_keys.c.scopes).where(api_keys.c.id == read.record.id)
        ).scalar_one()
    assert scopes == "read"


def test_to_dict_spells_every_field(db_engine: Engine, project: Project) -> None:
    now = utcnow()
    new = k.create_key(
        db_engine,
        PEPPER,
        project.id,
        scope="write",
        name="ci",
        expires_days=1,
        now=now,
    )
    record = new.record
    assert record.to_dict(now) == {
        "id": record.id,
        "project_id": project.id,
        "user_id": None,
        "name": "ci",
        "scopes": ["read", "write"],
        "scope": "write",
        "prefix": new.plaintext[:10],
        "suffix": new.plaintext[-4:],
        "display": f"{new.plaintext[:10]}…{new.plaintext[-4:]}",
        "status": "active",
        "created_at": now.isoformat(),
        "expires_at": (now + timedelta(days=1)).isoformat(),
        "revoked_at": None,
        "last_used_at": None,
    }
    assert record.to_dict(now + timedelta(days=1))["status"] == "expired"
    read = k.create_key(db_engine, PEPPER, project.id, now=now).record
    assert read.to_dict()["scope"] == "read"
    assert read.to_dict()["scopes"] == ["read"]
    assert read.to_dict()["expires_at"] is None
    revoked = k.revoke_key(db_engine, project.id, read.id, now=now)
    assert revoked.to_dict()["revoked_at"] == now.isoformat()
    assert revoked.to_dict()["status"] == "revoked"


def test_expires_days_of_one_and_a_naive_expiry_taken_as_utc(
    db_engine: Engine, project: Project
) -> None:
    now = utcnow()
    one = k.create_key(db_engine, PEPPER, project.id, expires_days=1, now=now)
    assert one.record.expires_at == now + timedelta(days=1)
    for days in (0, -1):
        with pytest.raises(BadRequest) as info:
            k.create_key(db_engine, PEPPER, project.id, expires_days=days)
        assert info.value.message == "--expires-days must be a positive number of days"
    naive = (now + timedelta(hours=1)).replace(tzinfo=None)
    new = k.create_key(db_engine, PEPPER, project.id, expires_at=naive, now=now)
    assert new.record.expires_at == naive.replace(tzinfo=UTC)
    assert new.record.expires_at is not None and new.record.expires_at.tzinfo is UTC
    assert new.record.is_active(now)  # an aware comparison: a naive one would raise
    aware = k.create_key(
        db_engine, PEPPER, project.id, expires_at=now + timedelta(hours=1), now=now
    )
    assert aware.record.expires_at == now + timedelta(hours=1)


def test_a_key_name_of_at_most_200_characters(
    db_engine: Engine, project: Project
) -> None:
    assert k.create_key(db_engine, PEPPER, project.id, name="n" * 200).record.name
    assert k.create_key(db_engine, PEPPER, project.id, name=" n" * 100 + "  ").record
    with pytest.raises(BadRequest) as info:
        k.create_key(db_engine, PEPPER, project.id, name="n" * 201)
    assert info.value.message == "a key name is at most 200 characters"


def test_the_limit_is_exactly_max_active(db_engine: Engine, project: Project) -> None:
    for _ in range(3):
        k.create_key(db_engine, PEPPER, project.id, max_active=3)
    with pytest.raises(LimitExceeded) as info:
        k.create_key(db_engine, PEPPER, project.id, max_active=3)
    assert info.value.message == (
        "this project already has 3 active API keys (the limit is 3); revoke one "
        "with `dakora admin revoke-key` before creating another"
    )
    assert info.value.details == {"limit": 3}
    with pytest.raises(LimitExceeded) as info:  # more active than a lower limit
        k.create_key(db_engine, PEPPER, project.id, max_active=2)
    assert info.value.details == {"limit": 2}
    k.create_key(db_engine, PEPPER, project.id, max_active=4)


def test_an_unknown_project_is_named(db_engine: Engine, project: Project) -> None:
    # (another project exists: the lookup is this id, not "any project", nor one
    # sorting before or after it)
    for missing in (
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ):
        with pytest.raises(ProjectNotFound) as info:
            k.create_key(db_engine, PEPPER, missing)
        assert info.value.message == f"project {missing!r} not found"


def test_a_refused_insert_is_a_storage_error(
    db_engine: Engine, project: Project
) -> None:
    # the same integrity error path as a (never seen) hash collision: a user id that
    # is not in ``users`` breaks the foreign key
    with pytest.raises(StorageError) as info:
        k.create_key(db_engine, PEPPER, project.id, user_id="no-such-user")
    assert info.value.message == "could not store the new key; try again"
    assert k.list_keys(db_engine, project.id) == []


def test_a_keys_user_is_kept(db_engine: Engine, project: Project) -> None:
    from dakora.registry.tenancy.users import create_user

    user = create_user(db_engine, email="a@example.com")
    new = k.create_key(db_engine, PEPPER, project.id, user_id=user.id)
    assert new.record.user_id == user.id
    assert k.get_key(db_engine, new.record.id).user_id == user.id


def test_touch_at_exactly_the_interval_waits(
    db_engine: Engine, project: Project
) -> None:
    new = k.create_key(db_engine, PEPPER, project.id)
    now = utcnow()
    assert k.touch_last_used(db_engine, new.record.id, now=now)
    step = timedelta(seconds=60)
    assert not k.touch_last_used(db_engine, new.record.id, now=now + step)
    assert k.touch_last_used(
        db_engine, new.record.id, now=now + step + timedelta(microseconds=1)
    )
    # another interval; and the default moment is the clock
    later = now + step + timedelta(microseconds=1)
    assert not k.touch_last_used(
        db_engine, new.record.id, now=later + timedelta(seconds=5), interval=step
    )
    assert k.touch_last_used(
        db_engine, new.record.id, now=later + timedelta(seconds=5), interval=step / 20
    )
    assert not k.touch_last_used(db_engine, "no-such-key", now=now)
    other = k.create_key(db_engine, PEPPER, project.id)
    assert k.touch_last_used(db_engine, other.record.id)
    touched = k.get_key(db_engine, other.record.id).last_used_at
    assert touched is not None and touched > now
    assert k.get_key(db_engine, new.record.id).last_used_at == later + timedelta(
        seconds=5
    )


def test_touch_options_are_keyword_only(db_engine: Engine, project: Project) -> None:
    new = k.create_key(db_engine, PEPPER, project.id)
    with pytest.raises(TypeError):
        k.touch_last_used(db_engine, new.record.id, utcnow())  # type: ignore[misc]
    with pytest.raises(TypeError):
        k.list_keys(db_engine, project.id, False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        k.revoke_key(db_engine, project.id, new.record.id, utcnow())  # type: ignore[misc]
    with pytest.raises(TypeError):
        k.create_key(db_engine, PEPPER, project.id, "write")  # type: ignore[misc]


def test_get_key_by_its_id_only(db_engine: Engine, project: Project) -> None:
    a, b = (k.create_key(db_engine, PEPPER, project.id) for _ in range(2))
    assert k.get_key(db_engine, b.record.id) == b.record
    assert k.get_key(db_engine, a.record.id) == a.record
    with pytest.raises(KeyNotFound) as info:
        k.get_key(db_engine, "nope")
    assert info.value.message == "API key 'nope' not found"
    with pytest.raises(KeyNotFound):  # an id sorting before every other
        k.get_key(db_engine, "00000000-0000-0000-0000-000000000000")


def test_list_keys_oldest_first_and_only_the_projects(
    db_engine: Engine, project: Project, other_project: Project
) -> None:
    now = utcnow()
    made = [
        k.create_key(db_engine, PEPPER, project.id, now=now + timedelta(seconds=s))
        for s in (3, 1, 2)
    ]
    same = [
        k.create_key(db_engine, PEPPER, project.id, now=now + timedelta(seconds=9))
        for _ in range(3)
    ]
    theirs = k.create_key(db_engine, PEPPER, other_project.id, now=now)
    assert [r.id for r in k.list_keys(db_engine, other_project.id)] == [
        theirs.record.id
    ]
    listed = [r.id for r in k.list_keys(db_engine, project.id)]
    ties = sorted(n.record.id for n in same)  # same moment: by id
    assert listed == [made[1].record.id, made[2].record.id, made[0].record.id, *ties]
    k.revoke_key(db_engine, project.id, made[1].record.id)
    active = k.list_keys(db_engine, project.id, include_inactive=False)
    assert [r.id for r in active] == [made[2].record.id, made[0].record.id, *ties]
    assert len(k.list_keys(db_engine, project.id)) == 6
    # the default moment of include_inactive=False is the clock
    expiring = k.create_key(
        db_engine, PEPPER, project.id, expires_at=now + timedelta(days=1)
    )
    assert expiring.record.id in {
        r.id for r in k.list_keys(db_engine, project.id, include_inactive=False)
    }


def test_revoke_by_a_display_prefix_exactly_ten_characters(
    db_engine: Engine, project: Project
) -> None:
    a = k.create_key(db_engine, PEPPER, project.id)
    b = k.create_key(db_engine, PEPPER, project.id)
    assert len(a.record.prefix) == 10
    got = k.revoke_key(db_engine, project.id, f"  {a.record.prefix}\n")
    assert got.id == a.record.id and got.revoked_at is not None
    assert k.get_key(db_engine, b.record.id).revoked_at is None
    # 11 characters: a plaintext, matched by prefix and suffix, not by "starts with"
    with pytest.raises(KeyNotFound) as info:
        k.revoke_key(db_engine, project.id, b.plaintext[:11])
    assert info.value.message == f"no API key {b.plaintext[:11]!r} in this project"
    # a short prefix: the one active key it matches (a is revoked already)
    assert k.revoke_key(db_engine, project.id, b.record.prefix[:6]).id == b.record.id


def _stored_key(engine: Engine, project: Project, prefix: str, suffix: str) -> str:
    """A key row with a chosen display prefix and suffix (as if its random part had
    come out that way); its id."""
    key_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                id=key_id,
                project_id=project.id,
                name="",
                scopes="read",
                key_hash=uuid.uuid4().hex * 2,
                prefix=prefix,
                suffix=suffix,
                created_at=utcnow(),
            )
        )
    return key_id


def test_eleven_characters_are_a_plaintext(db_engine: Engine, project: Project) -> None:
    # "dk_abcdefgh": prefix "dk_abcdefg" and suffix "efgh" (overlapping)
    key_id = _stored_key(db_engine, project, "dk_abcdefg", "efgh")
    assert k.revoke_key(db_engine, project.id, "dk_abcdefgh").id == key_id


@pytest.mark.parametrize("revoked_first", [0, 1])
def test_two_keys_sharing_a_prefix_pick_the_active_one(
    db_engine: Engine, project: Project, revoked_first: int
) -> None:
    made = [k.create_key(db_engine, PEPPER, project.id) for _ in range(2)]
    k.revoke_key(db_engine, project.id, made[revoked_first].record.id)
    live = made[1 - revoked_first].record.id
    assert k.revoke_key(db_engine, project.id, "dk_").id == live
    assert k.get_key(db_engine, live).revoked_at is not None


def test_revoke_by_plaintext_needs_prefix_and_suffix(
    db_engine: Engine, project: Project
) -> None:
    a = k.create_key(db_engine, PEPPER, project.id)
    forged = a.plaintext[:10] + "x" * 30 + "zzzz"
    if forged[-4:] == a.plaintext[-4:]:  # pragma: no cover - 1 in 16 million
        forged = forged[:-4] + "yyyy"
    with pytest.raises(KeyNotFound):
        k.revoke_key(db_engine, project.id, forged)
    for suffix in ("----", "zzzz"):  # suffixes sorting first and last
        if suffix != a.plaintext[-4:]:
            with pytest.raises(KeyNotFound):
                k.revoke_key(db_engine, project.id, a.plaintext[:-4] + suffix)
    for start in ("dk_-------", "dk_zzzzzzz"):  # its suffix, prefixes first and last
        with pytest.raises(KeyNotFound):
            k.revoke_key(db_engine, project.id, start + a.plaintext[10:])
    assert k.get_key(db_engine, a.record.id).revoked_at is None
    assert k.revoke_key(db_engine, project.id, a.plaintext).id == a.record.id


def test_a_prefix_without_dk_is_only_an_id(db_engine: Engine, project: Project) -> None:
    a = k.create_key(db_engine, PEPPER, project.id)
    with pytest.raises(KeyNotFound):
        k.revoke_key(db_engine, project.id, a.record.prefix[3:])
    with pytest.raises(KeyNotFound):
        k.revoke_key(db_engine, project.id, "dk_zzzzzzz")
    for start in ("dk", "d"):  # the start of every prefix, but not "dk_"
        with pytest.raises(KeyNotFound):
            k.revoke_key(db_engine, project.id, start)
    assert k.get_key(db_engine, a.record.id).revoked_at is None


def test_a_shared_prefix_picks_the_one_active_key(
    db_engine: Engine, project: Project
) -> None:
    now = utcnow()
    a = k.create_key(db_engine, PEPPER, project.id)
    b = k.create_key(db_engine, PEPPER, project.id)
    c = k.create_key(db_engine, PEPPER, project.id)
    with pytest.raises(BadRequest) as info:
        k.revoke_key(db_engine, project.id, "dk_")
    assert info.value.message == "'dk_' matches 3 keys; give the key id instead"
    k.revoke_key(db_engine, project.id, a.record.id)
    with pytest.raises(BadRequest) as info:  # two active of three: still ambiguous
        k.revoke_key(db_engine, project.id, "dk_")
    assert info.value.message == "'dk_' matches 3 keys; give the key id instead"
    k.revoke_key(db_engine, project.id, b.record.id)
    got = k.revoke_key(db_engine, project.id, "dk_", now=now)  # the one active left
    assert got.id == c.record.id and got.revoked_at == now
    with pytest.raises(BadRequest):  # none active of three
        k.revoke_key(db_engine, project.id, "dk_")


def test_revoking_records_the_moment_once(db_engine: Engine, project: Project) -> None:
    now = utcnow()
    a = k.create_key(db_engine, PEPPER, project.id)
    first = k.revoke_key(db_engine, project.id, a.record.id, now=now)
    assert first.revoked_at == now
    assert first == k.get_key(db_engine, a.record.id)  # the row as stored
    again = k.revoke_key(
        db_engine, project.id, a.record.id, now=now + timedelta(hours=1)
    )
    assert again.revoked_at == now  # a no-op: the first moment is kept
    assert again == first
    b = k.create_key(db_engine, PEPPER, project.id)
    before = utcnow()
    stamp = k.revoke_key(db_engine, project.id, b.record.id).revoked_at
    assert stamp is not None and stamp >= before  # the default moment: the clock


def test_revoke_without_a_key_names_the_problem(
    db_engine: Engine, project: Project
) -> None:
    with pytest.raises(BadRequest) as info:
        k.revoke_key(db_engine, project.id, " \t")
    assert info.value.message == "which key? give its id or its prefix"
    with pytest.raises(KeyNotFound) as info:
        k.revoke_key(db_engine, project.id, " nope ")
    assert info.value.message == "no API key 'nope' in this project"


def test_a_key_is_revoked_only_through_its_own_project(
    db_engine: Engine, project: Project, other_project: Project
) -> None:
    # both ways: whichever project id sorts first
    mine = k.create_key(db_engine, PEPPER, project.id)
    theirs = k.create_key(db_engine, PEPPER, other_project.id)
    for through, key in ((other_project, mine), (project, theirs)):
        for needle in (key.record.id, key.record.prefix, key.plaintext):
            with pytest.raises(KeyNotFound):
                k.revoke_key(db_engine, through.id, needle)
    assert k.get_key(db_engine, mine.record.id).revoked_at is None
    assert k.get_key(db_engine, theirs.record.id).revoked_at is None


def test_revoking_or_touching_one_key_leaves_the_others_alone(
    db_engine: Engine, project: Project
) -> None:
    made = sorted(
        (k.create_key(db_engine, PEPPER, project.id).record for _ in range(3)),
        key=lambda r: r.id,
    )
    middle = made[1].id  # keys with a lower and a higher id around it
    assert k.touch_last_used(db_engine, middle)
    assert k.revoke_key(db_engine, project.id, middle).id == middle
    for record in (made[0], made[2]):
        stored = k.get_key(db_engine, record.id)
        assert stored.revoked_at is None and stored.last_used_at is None
