"""``GET /api/health``: public liveness check (no auth, no database)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dakora.api.deps import StateDep
from dakora.api.version import VERSION

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    auth_mode: str = Field(
        description="keys | clerk | none: the Studio opens straight in when none"
    )


@router.get("/api/health", response_model=Health, summary="Liveness check (public)")
async def health(state: StateDep) -> Health:
    return Health(status="ok", version=VERSION, auth_mode=state.settings.auth_mode)
