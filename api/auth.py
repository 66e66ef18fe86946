"""Who is calling, and may they touch this project?

Credentials, in order: ``X-API-Key: dk_…``, ``Authorization: Bearer dk_…`` (an API
key), ``Authorization: Bearer <JWT>`` (a Clerk session token, auth mode ``clerk``).
Auth mode ``none`` (loopback only, refused elsewhere at startup) lets every request in
as the local developer.

Access rules:

- a key works only for its own project: ``read`` scope reads, ``write`` scope writes;
- a Clerk user through workspace membership: ``viewer`` reads, ``member`` and above
  write;
- missing or invalid credentials → 401; valid but not allowed (read key on a write,
  viewer writing) → 403; a project the caller cannot see → the same 404 as a project
  that does not exist.

Verified keys are cached in process (a dict lookup on the warm path). Before each
request the :class:`~dakora.api.events.EventWatcher` looks for changes made by other
processes (PostgreSQL NOTIFY, SQLite ``data_version``) and drops the cache when a key
may have been revoked; expiry is checked against the cached ``expires_at`` on every
request. ``last_used_at`` is written at most once a minute per key, off the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from dakora.registry.core import (
    AccessDenied,
    ProjectNotFound,
    Settings,
    Unauthenticated,
)
from dakora.registry.db import Engine
from dakora.registry.tenancy import (
    KEY_PREFIX,
    KeyRecord,
    Project,
    ProjectCache,
    external_user_roles,
    touch_last_used,
    verify_key,
)

log = logging.getLogger("dakora.api")

Need = Literal["read", "write"]
WRITE_ROLES = frozenset({"owner", "admin", "member"})
READ_ROLES = frozenset({"owner", "admin", "member", "viewer"})
TOUCH_INTERVAL_S = 60.0
MAX_CACHED_KEYS = 10_000
MAX_BAD_KEYS = 10_000

MISSING_CREDENTIALS = (
    "missing credentials: send an API key as 'Authorization: Bearer dk_…' or "
    "'X-API-Key: dk_…'"
)
INVALID_KEY = "invalid API key"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: an API key, a Clerk user, or the local developer."""

    kind: Literal["key", "user", "local"]
    key: KeyRecord | None = None
    user_id: str | None = None  # the users.id of a Clerk user (None: not provisioned)
    subject: str | None = None  # the Clerk user id (sub)
    email: str | None = None
    memberships: Mapping[str, str] = field(default_factory=dict)  # workspace id → role

    @property
    def key_id(self) -> str | None:
        return self.key.id if self.key is not None else None

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind}
        if self.key is not None:
            out["key"] = {
                "id": self.key.id,
                "name": self.key.name,
                "display": self.key.display,
                "scopes": sorted(self.key.scopes),
                "project_id": self.key.project_id,
                "expires_at": (
                    self.key.expires_at.isoformat() if self.key.expires_at else None
                ),
            }
        if self.kind == "user":
            out["user"] = {
                "id": self.user_id,
                "subject": self.subject,
                "email": self.email,
            }
        return out


@dataclass(frozen=True)
class _CachedKey:
    caller: Caller
    expires_ts: float | None  # POSIX seconds, None = never


LOCAL_CALLER = Caller(kind="local")


class Authenticator:
    """Resolves callers and checks access; owns the verified-key cache."""

    def __init__(
        self, settings: Settings, engine: Engine, projects: ProjectCache
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.projects = projects
        self._pepper = settings.pepper()
        self._keys: dict[str, _CachedKey] = {}
        self._bad: dict[str, None] = {}
        self._touched: dict[str, float] = {}
        self._touch_pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="dakora-touch"
        )
        self._clerk = None
        if settings.auth_mode == "clerk":
            from dakora.registry.tenancy import ClerkVerifier

            if not settings.clerk_issuer:
                from dakora.registry.core import ConfigError

                raise ConfigError(
                    "auth mode 'clerk' needs DAKORA_CLERK_ISSUER (the Clerk Frontend "
                    "API URL)"
                )
            self._clerk = ClerkVerifier(
                settings.clerk_issuer, jwks_url=settings.clerk_jwks_url
            )
        self.stats = {"key_hits": 0, "key_verifications": 0}
        # Called first on every authenticate(): the event watcher's poll, so changes
        # made by other processes (revocations) apply to this very request.
        self.before_request: Callable[[], None] | None = None

    def close(self) -> None:
        self._touch_pool.shutdown(wait=True, cancel_futures=False)

    def wait_for_touches(self) -> None:
        """Return once every ``last_used_at`` write submitted so far is done (tests)."""
        with contextlib.suppress(RuntimeError):  # shut down: nothing is pending
            self._touch_pool.submit(lambda: None).result()

    def invalidate(self) -> None:
        """Forget every verified (and every refused) key."""
        self._keys = {}
        self._bad = {}

    # -- who ------------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller behind the request's credentials. Raises Unauthenticated."""
        if self.before_request is not None:
            self.before_request()
        token, scheme_ok = credentials(headers)
        if self.settings.auth_mode == "none":
            if token and token.startswith(KEY_PREFIX):
                return self._key_caller(token)
            return LOCAL_CALLER
        if not scheme_ok:
            raise Unauthenticated(
                "unsupported Authorization scheme: use 'Bearer <key or token>'"
            )
        if not token:
            raise Unauthenticated(MISSING_CREDENTIALS)
        if token.startswith(KEY_PREFIX):
            return self._key_caller(token)
        if self._clerk is None:
            raise Unauthenticated(INVALID_KEY)
        return self._user_caller(token)

    def cached_key_access(
        self, token: str, project_ref: str, need: Need
    ) -> Project | None:
        """:meth:`authenticate` + :meth:`authorize` for an API key verified before,
        from the caches alone (the fast path, ``api/fastpath.py``): the project when
        this key may ``need`` it; None for anything else (not cached, expired, another
        project, not allowed), and the caller then takes the full path, which gives
        the same answer or the error. The caller polls ``before_request`` first."""
        cached = self._keys.get(token)
        if cached is None or (
            cached.expires_ts is not None and time.time() >= cached.expires_ts
        ):
            return None
        key = cached.caller.key
        assert key is not None
        project = self.projects.peek(key.project_id)
        if project is None or (
            project_ref != project.id
            and project_ref != project.slug_ref
            and project_ref.lower() != project.id
        ):
            return None
        if need == "write" and not key.allows("write"):
            return None
        self.stats["key_hits"] += 1
        self._maybe_touch(key)
        return project

    def _key_caller(self, token: str) -> Caller:
        cached = self._keys.get(token)
        if cached is not None:
            if cached.expires_ts is not None and time.time() >= cached.expires_ts:
                self._keys.pop(token, None)
                raise Unauthenticated(INVALID_KEY)
            self.stats["key_hits"] += 1
            self._maybe_touch(cached.caller.key)  # type: ignore[arg-type]
            return cached.caller
        if token in self._bad:
            raise Unauthenticated(INVALID_KEY)
        self.stats["key_verifications"] += 1
        try:
            record = verify_key(self.engine, self._pepper, token)
        except Unauthenticated:
            if len(self._bad) >= MAX_BAD_KEYS:
                self._bad = {}
            self._bad[token] = None
            raise Unauthenticated(INVALID_KEY) from None
        caller = Caller(kind="key", key=record)
        if len(self._keys) >= MAX_CACHED_KEYS:
            self._keys = {}
        self._keys[token] = _CachedKey(
            caller,
            record.expires_at.timestamp() if record.expires_at is not None else None,
        )
        self._maybe_touch(record)
        return caller

    def _maybe_touch(self, record: KeyRecord) -> None:
        now = time.monotonic()
        last = self._touched.get(record.id)
        if last is not None and now - last < TOUCH_INTERVAL_S:
            return
        self._touched[record.id] = now
        with contextlib.suppress(RuntimeError):  # RuntimeError: shutting down
            self._touch_pool.submit(self._touch, record.id)

    def _touch(self, key_id: str) -> None:
        try:
            touch_last_used(self.engine, key_id)
        except Exception:  # bookkeeping only: never fail a request over it
            log.warning("could not record last use of key %s", key_id, exc_info=True)

    def _user_caller(self, token: str) -> Caller:
        assert self._clerk is not None
        claims = self._clerk.verify(token)
        found = external_user_roles(self.engine, claims.sub)
        if found is None:
            return Caller(kind="user", subject=claims.sub, email=claims.email)
        user, roles = found
        return Caller(
            kind="user",
            user_id=user.id,
            subject=claims.sub,
            email=user.email or claims.email,
            memberships=roles,
        )

    # -- may they ---------------------------------------------------------------------

    def authorize(self, caller: Caller, project_ref: str, need: Need) -> Project:
        """The project, if ``caller`` may ``need`` it. 404 when it can't even see it."""
        if caller.kind == "key":
            assert caller.key is not None
            # A key sees one project: compare with its spellings and never look up
            # another project (no query, no cache entry, no timing to tell them apart).
            project = self.projects.get(caller.key.project_id)
            if project is None or (
                project_ref != project.id
                and project_ref != project.slug_ref
                and project_ref.lower() != project.id
            ):
                raise _not_found(project_ref)
            if need == "write" and not caller.key.allows("write"):
                raise AccessDenied(
                    "this API key is read-only; writing needs a write key"
                )
            return project
        project = self.projects.get(project_ref)
        if caller.kind == "user":
            role = caller.memberships.get(project.workspace_id) if project else None
            if project is None or role not in READ_ROLES:
                raise _not_found(project_ref)
            if need == "write" and role not in WRITE_ROLES:
                raise AccessDenied(
                    f"your role in this workspace is {role!r}; writing needs member, "
                    "admin or owner"
                )
            return project
        if project is None:
            raise _not_found(project_ref)
        return project

    def visible_projects(self, caller: Caller) -> list[Project]:
        """Every project the caller can read (for ``/api/me``)."""
        if caller.kind == "key":
            assert caller.key is not None
            return self.projects.by_ids([caller.key.project_id])
        if caller.kind == "user":
            return self.projects.in_workspaces(sorted(caller.memberships))
        return self.projects.all()

    def default_project(self, caller: Caller) -> Project | None:
        """The project a caller works in when none is named (``/api/me``'s
        ``default_project``): an API key's own project; for a Clerk user the
        ``default`` project of the personal workspace they own; None otherwise (the
        local caller of no-auth mode, a user not provisioned yet or without one)."""
        if caller.kind == "key":
            assert caller.key is not None
            found = self.projects.by_ids([caller.key.project_id])
            return found[0] if found else None
        if caller.kind == "user":
            owned = [ws for ws, role in caller.memberships.items() if role == "owner"]
            return self.projects.personal_default(sorted(owned))
        return None


def _not_found(project_ref: str) -> ProjectNotFound:
    # The same words whether the project is missing or just not the caller's.
    return ProjectNotFound(f"project {project_ref!r} not found")


def credentials(headers: Mapping[str, str]) -> tuple[str | None, bool]:
    """(token, scheme_ok) from X-API-Key or ``Authorization: Bearer``."""
    api_key = headers.get("x-api-key")
    if api_key:
        return api_key.strip(), True
    auth = headers.get("authorization")
    if not auth:
        return None, True
    if auth[:7] == "Bearer ":  # the common case, without splitting
        return auth[7:].strip() or None, True
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None, False
    return value.strip() or None, True
