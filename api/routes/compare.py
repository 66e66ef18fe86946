"""``GET /api/projects/{project}/compare?base=&head=``: the review of two refs.

The same JSON as ``dakora review --format json`` (``docs/review-schema.md``), for
branches pushed to the server as proposals: a review without a local clone
(``dakora review --remote``). Needs read access to the project. ``base`` defaults to the
project's default branch; both accept a branch, tag or commit sha.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dakora.api.deps import ReadAccess
from dakora.registry.core import BadRequest
from dakora.registry.review import FAIL_ON_LEVELS, ReviewReport, review, to_json

router = APIRouter(tags=["review"])


@router.get(
    "/api/projects/{project}/compare",
    response_model=ReviewReport,
    summary="Review the prompt changes between two refs (PR review)",
    responses={404: {"description": "Project or ref not found"}},
)
def compare(
    access: ReadAccess,
    head: Annotated[str, Query(min_length=1, description="HEAD ref or sha")],
    base: Annotated[
        str | None,
        Query(min_length=1, description="BASE ref or sha; default: the default branch"),
    ] = None,
    fail_on: Annotated[
        str, Query(description="error | breaking | risky | never")
    ] = "breaking",
    allow_removals: Annotated[bool, Query()] = False,
) -> Response:
    # sync: the review renders and checks (CPU); FastAPI runs it in its thread pool
    if fail_on not in FAIL_ON_LEVELS:
        raise BadRequest(
            f"unknown fail_on {fail_on!r}: use one of {', '.join(FAIL_ON_LEVELS)}"
        )
    info, content = access.project, access.content
    repo = content.repo(info)
    base_rev = base or info.default_branch
    base_commit = repo.resolve(base_rev)
    head_commit = repo.resolve(head)
    report = review(
        content.snapshot(info, str(base_commit)),
        content.snapshot(info, str(head_commit)),
        allow_removals=allow_removals,
        fail_on=fail_on,
        base_rev=base_rev,
        head_rev=head,
        renderer=content.renderer,
    )
    return Response(to_json(report).encode(), media_type="application/json")
