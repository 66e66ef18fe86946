"""Runtime fetch of parts (the snippets prompts include)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from dakora.api.content import respond
from dakora.api.deps import ReadAccess
from dakora.api.schemas import ERROR_RESPONSES, PartListOut, PartOut
from dakora.registry.content import Selector

router = APIRouter(prefix="/api/projects/{project}", tags=["parts"])

RefQ = Annotated[
    str | None,
    Query(description="Branch or tag (default: the project's default branch)"),
]
CommitQ = Annotated[str | None, Query(description="A commit sha (full or short)")]


@router.get(
    "/parts",
    response_model=PartListOut,
    responses=ERROR_RESPONSES,
    summary="List the parts at a ref",
)
def list_parts(  # sync: FastAPI runs it in a thread (reads may wait, §15)
    request: Request, access: ReadAccess, ref: RefQ = None, commit: CommitQ = None
) -> Response:
    selector = Selector.of(ref=ref, commit=commit)
    return respond(request, access.content.parts_body(access.project, selector))


@router.get(
    "/parts/{category}/{name}",
    response_model=PartOut,
    responses=ERROR_RESPONSES,
    summary="Get one part's source (name with or without extension)",
)
def get_part(  # sync: in a thread, as list_parts
    request: Request,
    access: ReadAccess,
    category: str,
    name: str,
    ref: RefQ = None,
    commit: CommitQ = None,
) -> Response:
    selector = Selector.of(ref=ref, commit=commit)
    body = access.content.part_body(access.project, category, name, selector)
    return respond(request, body)
