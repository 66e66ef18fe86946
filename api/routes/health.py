"""``GET /api/health``: public liveness check (no auth, no database)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from dakora.api.version import VERSION

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/api/health", response_model=Health, summary="Liveness check (public)")
async def health() -> Health:
    return Health(status="ok", version=VERSION)
