"""A project's API keys over HTTP: list, create (the key shown once), revoke.

``GET /api/projects/{project}/api-keys``, ``POST /api/projects/{project}/api-keys``,
``DELETE /api/projects/{project}/api-keys/{key_id}`` — the ``dakora admin list-keys |
create-key | revoke-key`` commands for the Studio, on the same storage functions
(``dakora.registry.tenancy.keys``): the same limit (``DAKORA_MAX_KEYS_PER_PROJECT``
active keys, 400 ``limit_exceeded``), the same scopes and expiry, and the same record
(``created_at``, ``revoked_at``; a revocation is published to every server process, so
the key stops working on the next request). The HTTP routes also record the creating
user in the key's ``user_id`` and log who created or revoked which key (logger
``dakora.api``).

Who may: a Clerk user whose role in the project's workspace is ``owner`` or
``admin``, and the local developer in auth mode ``none``. API keys (``dk_…``, whatever
their scope) may not manage keys: 403. Like every project route: no or bad
credentials → 401, a project the caller cannot see → 404, then 403 for a role below
admin.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dakora.api.deps import Access, ProjectPath, get_state, reject_unknown_query
from dakora.api.schemas import ERROR_RESPONSES, ErrorOut, plain_text
from dakora.registry.core import AccessDenied, KeyNotFound
from dakora.registry.db import utcnow
from dakora.registry.tenancy import keys

log = logging.getLogger("dakora.api")

router = APIRouter(prefix="/api/projects/{project}", tags=["api-keys"])

MANAGER_ROLES = frozenset({"owner", "admin"})

KEY_RESPONSES = {
    **ERROR_RESPONSES,
    403: {
        "model": ErrorOut,
        "description": "An API key, or a workspace role below admin",
    },
}


class KeyOut(BaseModel):
    id: str
    project_id: str
    user_id: str | None = Field(description="The user who created it (null: the CLI)")
    name: str
    scope: Literal["read", "write"]
    scopes: list[str] = Field(description="'write' implies 'read'")
    prefix: str
    suffix: str
    display: str = Field(description="dk_AbCdEfG…wxyz: recognisable, not usable")
    status: Literal["active", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyListOut(BaseModel):
    project_id: str
    limit: int = Field(description="At most this many active keys per project")
    keys: list[KeyOut] = Field(description="Oldest first, revoked and expired too")


class KeyCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["read", "write"] = Field(
        default="read", description="read (fetch, render, clone) or write (also push)"
    )
    name: str = Field(default="", max_length=200, description="A label, e.g. ci")
    expires_days: int | None = Field(
        default=None, ge=1, le=36500, description="Expire after N days (null: never)"
    )

    _text = field_validator("name")(plain_text)


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, never again")


def manage_access(request: Request, project: str, what: str = "API keys") -> Access:
    """The caller, if it may manage the project's keys (see the module docstring);
    ``what`` names the managed thing in the refusals (webhooks use the same rule)."""
    state = get_state(request)
    assert state.auth is not None, "the app is not started"
    caller = state.auth.authenticate(request.headers)
    info = state.auth.authorize(caller, project, "read")  # 401, then 404
    if request.scope.get("query_string"):
        reject_unknown_query(request)
    if caller.kind == "key":
        raise AccessDenied(
            f"API keys cannot manage {what}: sign in as a workspace owner or admin"
        )
    if caller.kind == "user":
        role = caller.memberships.get(info.workspace_id)
        if role not in MANAGER_ROLES:
            raise AccessDenied(
                f"your role in this workspace is {role!r}; managing {what} needs "
                "owner or admin"
            )
    return Access(caller, info, state)


def _key_manager(request: Request, project: ProjectPath) -> Access:
    return manage_access(request, project)


# A dependency, so that the caller is checked before the body is validated: an
# unauthenticated request is a 401, never a 422 that describes the body.
KeyManager = Annotated[Access, Depends(_key_manager)]


def _who(access: Access) -> str:
    caller = access.caller
    if caller.kind == "user":
        return f"user {caller.user_id} ({caller.email or caller.subject})"
    return "the local developer (auth mode none)"


def _key_out(record: keys.KeyRecord, now: datetime | None = None) -> KeyOut:
    return KeyOut.model_validate(record.to_dict(now))


@router.get(
    "/api-keys",
    response_model=KeyListOut,
    responses=KEY_RESPONSES,
    summary="The project's API keys (never the keys themselves)",
)
def list_api_keys(access: KeyManager) -> KeyListOut:
    state = access.state
    now = utcnow()
    records = keys.list_keys(state.engine, access.project.id, now=now)
    return KeyListOut(
        project_id=access.project.id,
        limit=state.settings.max_keys_per_project,
        keys=[_key_out(r, now) for r in records],
    )


@router.post(
    "/api-keys",
    status_code=201,
    response_model=KeyCreatedOut,
    responses={
        **KEY_RESPONSES,
        400: {"model": ErrorOut, "description": "The active-key limit is reached"},
        422: {"model": ErrorOut, "description": "A bad body (names the field)"},
    },
    summary="Create an API key; the response shows it, once",
)
def create_api_key(access: KeyManager, body: KeyCreateIn) -> KeyCreatedOut:
    state = access.state
    new = keys.create_key(
        state.engine,
        state.settings.pepper(),
        access.project.id,
        scope=body.scope,
        name=body.name,
        expires_days=body.expires_days,
        user_id=access.caller.user_id,
        max_active=state.settings.max_keys_per_project,
    )
    log.info(
        "API key %s (%s, %s) of %s created by %s",
        new.record.id,
        new.record.display,
        body.scope,
        access.project.full_name,
        _who(access),
    )
    out = _key_out(new.record).model_dump()
    return KeyCreatedOut(**out, key=new.plaintext)


@router.delete(
    "/api-keys/{key_id}",
    response_model=KeyOut,
    responses=KEY_RESPONSES,
    summary="Revoke an API key (it stops working on the next request)",
)
def revoke_api_key(
    access: KeyManager,
    key_id: Annotated[
        str,
        Path(
            max_length=keys.MAX_KEY_LENGTH,
            description="The key's id (or its dk_… prefix, as the CLI takes)",
        ),
    ],
) -> KeyOut:
    state = access.state
    try:
        plain_text(key_id)
    except ValueError:
        raise KeyNotFound(f"no API key {key_id!r} in this project") from None
    started = utcnow()
    record = keys.revoke_key(state.engine, access.project.id, key_id, now=started)
    if record.revoked_at is not None and record.revoked_at >= started:
        state.auth.invalidate()  # type: ignore[union-attr]  # this process at once
        log.info(
            "API key %s (%s) of %s revoked by %s",
            record.id,
            record.display,
            access.project.full_name,
            _who(access),
        )
    return _key_out(record)
