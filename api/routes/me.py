"""``GET /api/me``: who am I, which projects (with their UUIDs) can I read, and which
one is my ``default_project`` (what the SDK uses when it is given none)."""

from __future__ import annotations

from fastapi import APIRouter

from dakora.api.deps import CallerDep, StateDep
from dakora.api.schemas import ERROR_RESPONSES, MeOut, ProjectOut

router = APIRouter(tags=["me"])


@router.get(
    "/api/me",
    response_model=MeOut,
    responses={401: ERROR_RESPONSES[401]},
    summary="The caller and the projects it can read (with their ids)",
)
def me(caller: CallerDep, state: StateDep) -> MeOut:
    assert state.auth is not None
    described = caller.describe()
    return MeOut(
        kind=caller.kind,
        auth_mode=state.settings.auth_mode,
        key=described.get("key"),  # type: ignore[arg-type]
        user=described.get("user"),  # type: ignore[arg-type]
        projects=[
            ProjectOut(**p.public_dict())  # type: ignore[arg-type]
            for p in state.auth.visible_projects(caller)
        ],
        default_project=(
            ProjectOut(**default.public_dict())  # type: ignore[arg-type]
            if (default := state.auth.default_project(caller)) is not None
            else None
        ),
    )
