"""API keys (docs/design.md §9): created once, stored as a keyed hash, checked on every request.

A key is ``dk_`` + ``secrets.token_urlsafe(32)`` (32 random bytes). The database keeps
``HMAC-SHA256(pepper, key)`` (fast, keyed: a stolen table alone does not allow offline
guessing; random keys need no slow hash), plus the first 10 and last 4 characters for
display. Scopes: ``read`` (fetch, clone, render) and ``write`` (push, writes; implies
read). At most ``max_active`` (default 10) unrevoked, unexpired keys per project.

``verify_key`` says ``Unauthenticated("invalid API key")`` for an unknown, revoked or
expired key alike: callers learn nothing about which. Revocation and expiry are read from
the database on each verification, so they take effect on the next request (callers that
cache verified keys must bound the cache's lifetime).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from dakora.registry.core import (
    BadRequest,
    KeyNotFound,
    LimitExceeded,
    ProjectNotFound,
    StorageError,
    Unauthenticated,
)
from dakora.registry.db import (
    api_keys,
    is_sqlite,
    projects,
    publish_key_changed,
    read,
    transaction,
    utcnow,
)

KEY_PREFIX = "dk_"
DISPLAY_PREFIX_LEN = 10
DISPLAY_SUFFIX_LEN = 4
MAX_KEY_LENGTH = 200
DEFAULT_MAX_ACTIVE = 10
TOUCH_INTERVAL = timedelta(seconds=60)
INVALID_KEY_MESSAGE = "invalid API key"
VALID_SCOPES = ("read", "write")


@dataclass(frozen=True)
class KeyRecord:
    """One stored key (never the plaintext)."""

    id: str
    project_id: str
    user_id: str | None
    name: str
    scopes: frozenset[str]
    prefix: str
    suffix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def allows(self, scope: str) -> bool:
        """True when the key carries ``scope`` (``write`` implies ``read``)."""
        return scope in self.scopes

    def is_active(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    def status(self, now: datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if not self.is_active(now):
            return "expired"
        return "active"

    @property
    def display(self) -> str:
        """``dk_AbCdEfG…wxyz``: enough to recognise a key, useless to an attacker."""
        return f"{self.prefix}…{self.suffix}"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "project_id": self.project_id,
            "user_id": self.user_id,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "scope": "write" if "write" in self.scopes else "read",
            "prefix": self.prefix,
            "suffix": self.suffix,
            "display": self.display,
            "status": self.status(now),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
        }


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: the only moment the plaintext exists."""

    record: KeyRecord
    plaintext: str


# -- pure helpers ---------------------------------------------------------------------


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(pepper: bytes, plaintext: str) -> str:
    """Hex HMAC-SHA256 of the key under the server's secret."""
    return hmac.new(pepper, plaintext.encode("utf-8"), hashlib.sha256).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 20 <= len(value) <= MAX_KEY_LENGTH


def normalize_scopes(scope: str | Iterable[str]) -> frozenset[str]:
    """``"read"`` → {read}; ``"write"`` → {read, write}. Unknown scopes: BadRequest."""
    items = scope.replace(",", " ").split() if isinstance(scope, str) else list(scope)
    if not items:
        raise BadRequest("a key needs a scope: read or write")
    result: set[str] = set()
    for item in items:
        if item not in VALID_SCOPES:
            raise BadRequest(f"unknown scope {item!r}: use read or write")
        result.add(item)
    if "write" in result:
        result.add("read")
    return frozenset(result)


def _scopes_to_db(scopes: frozenset[str]) -> str:
    return " ".join(s for s in VALID_SCOPES if s in scopes)


def _record(row: Row[Any]) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        project_id=row.project_id,
        user_id=row.user_id,
        name=row.name,
        scopes=frozenset(row.scopes.split()),
        prefix=row.prefix,
        suffix=row.suffix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _active_clause(now: datetime) -> Any:
    return and_(
        api_keys.c.revoked_at.is_(None),
        or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
    )


# -- storage --------------------------------------------------------------------------


def create_key(
    engine: Engine,
    pepper: bytes,
    project_id: str,
    *,
    scope: str | Iterable[str] = "read",
    name: str = "",
    expires_at: datetime | None = None,
    expires_days: int | None = None,
    user_id: str | None = None,
    max_active: int = DEFAULT_MAX_ACTIVE,
    now: datetime | None = None,
) -> NewKey:
    """Create a key for a project; the plaintext is in the result, and nowhere else.

    Raises ``LimitExceeded`` when the project already has ``max_active`` active keys,
    ``ProjectNotFound`` for an unknown project, ``BadRequest`` for bad arguments.
    """
    now = now or utcnow()
    scopes = normalize_scopes(scope)
    if expires_days is not None:
        if expires_days <= 0:
            raise BadRequest("--expires-days must be a positive number of days")
        expires_at = now + timedelta(days=expires_days)
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    name = name.strip()
    if len(name) > 200:
        raise BadRequest("a key name is at most 200 characters")
    plaintext = generate_key()
    values = {
        "id": str(uuid.uuid4()),
        "project_id": project_id,
        "user_id": user_id,
        "name": name,
        "scopes": _scopes_to_db(scopes),
        "key_hash": hash_key(pepper, plaintext),
        "prefix": plaintext[:DISPLAY_PREFIX_LEN],
        "suffix": plaintext[-DISPLAY_SUFFIX_LEN:],
        "created_at": now,
        "expires_at": expires_at,
    }
    try:
        with transaction(engine) as conn:
            # Lock the project row so two concurrent creates cannot both pass the
            # count (SQLite: BEGIN IMMEDIATE already serialises writers).
            lock = select(projects.c.id).where(projects.c.id == project_id)
            if not is_sqlite(conn):
                lock = lock.with_for_update()
            if conn.execute(lock).first() is None:
                raise ProjectNotFound(f"project {project_id!r} not found")
            active = conn.execute(
                select(func.count())
                .select_from(api_keys)
                .where(api_keys.c.project_id == project_id, _active_clause(now))
            ).scalar_one()
            if active >= max_active:
                raise LimitExceeded(
                    f"this project already has {active} active API keys (the limit "
                    f"is {max_active}); revoke one with `dakora admin revoke-key` "
                    "before creating another",
                    limit=max_active,
                )
            conn.execute(api_keys.insert().values(**values))
    except (
        IntegrityError
    ) as exc:  # a hash collision of 256-bit randomness: retry-worthy
        raise StorageError("could not store the new key; try again") from exc
    record = KeyRecord(
        id=str(values["id"]),
        project_id=project_id,
        user_id=user_id,
        name=name,
        scopes=scopes,
        prefix=str(values["prefix"]),
        suffix=str(values["suffix"]),
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
    )
    return NewKey(record=record, plaintext=plaintext)


def verify_key(
    engine: Engine, pepper: bytes, plaintext: str, *, now: datetime | None = None
) -> KeyRecord:
    """The active key with this plaintext. Raises ``Unauthenticated`` otherwise."""
    plaintext = plaintext.strip()
    if not looks_like_key(plaintext):
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    digest = hash_key(pepper, plaintext)
    with read(engine) as conn:
        row = conn.execute(
            select(api_keys).where(api_keys.c.key_hash == digest)
        ).first()
    if row is None:
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    record = _record(row)
    if not record.is_active(now):
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    return record


def touch_last_used(
    engine: Engine,
    key_id: str,
    *,
    now: datetime | None = None,
    interval: timedelta = TOUCH_INTERVAL,
) -> bool:
    """Record use of a key, at most once per ``interval``. True when a row was written.

    The condition is in the UPDATE itself: a key used a thousand times a minute costs
    one write a minute, and concurrent callers never race.
    """
    now = now or utcnow()
    with transaction(engine, write=False) as conn:
        result = conn.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                or_(
                    api_keys.c.last_used_at.is_(None),
                    api_keys.c.last_used_at < now - interval,
                ),
            )
            .values(last_used_at=now)
        )
        return bool(result.rowcount)


def get_key(engine: Engine, key_id: str) -> KeyRecord:
    with read(engine) as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise KeyNotFound(f"API key {key_id!r} not found")
    return _record(row)


def list_keys(
    engine: Engine,
    project_id: str,
    *,
    include_inactive: bool = True,
    now: datetime | None = None,
) -> list[KeyRecord]:
    """The project's keys, oldest first (revoked and expired ones too by default)."""
    query = select(api_keys).where(api_keys.c.project_id == project_id)
    if not include_inactive:
        query = query.where(_active_clause(now or utcnow()))
    with read(engine) as conn:
        rows = conn.execute(
            query.order_by(api_keys.c.created_at, api_keys.c.id)
        ).fetchall()
    return [_record(r) for r in rows]


def revoke_key(
    engine: Engine,
    project_id: str,
    key_id_or_prefix: str,
    *,
    now: datetime | None = None,
) -> KeyRecord:
    """Revoke a key of the project by id, display prefix (``dk_AbCdEfG``) or plaintext.

    Revoking an already revoked key is a no-op that returns it. A key of another
    project is ``KeyNotFound``; a prefix matching several keys is ``BadRequest``.
    """
    now = now or utcnow()
    needle = key_id_or_prefix.strip()
    if not needle:
        raise BadRequest("which key? give its id or its prefix")
    with transaction(engine) as conn:
        base = select(api_keys).where(api_keys.c.project_id == project_id)
        rows = conn.execute(base.where(api_keys.c.id == needle)).fetchall()
        if not rows and needle.startswith(KEY_PREFIX):
            if len(needle) > DISPLAY_PREFIX_LEN:
                # A full plaintext key: match its display prefix and suffix.
                rows = conn.execute(
                    base.where(
                        api_keys.c.prefix == needle[:DISPLAY_PREFIX_LEN],
                        api_keys.c.suffix == needle[-DISPLAY_SUFFIX_LEN:],
                    )
                ).fetchall()
            else:
                rows = [
                    r
                    for r in conn.execute(base).fetchall()
                    if r.prefix.startswith(needle)
                ]
        if not rows:
            raise KeyNotFound(f"no API key {needle!r} in this project")
        if len(rows) > 1:
            active = [r for r in rows if r.revoked_at is None]
            if len(active) != 1:
                raise BadRequest(
                    f"{needle!r} matches {len(rows)} keys; give the key id instead"
                )
            rows = active
        row = rows[0]
        if row.revoked_at is not None:
            return _record(row)
        conn.execute(
            update(api_keys).where(api_keys.c.id == row.id).values(revoked_at=now)
        )
        publish_key_changed(conn, row.id)
        revoked = conn.execute(select(api_keys).where(api_keys.c.id == row.id)).one()
    return _record(revoked)
