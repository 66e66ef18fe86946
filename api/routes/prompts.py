"""Runtime fetch of prompts: list, get (ETag/304), render, versions, diff."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from dakora.api.content import json_bytes, respond
from dakora.api.deps import ReadAccess, check_access
from dakora.api.render_request import decode_body, render, selector_of, validate_body
from dakora.api.schemas import (
    ERROR_RESPONSES,
    DiffOut,
    ErrorOut,
    PromptListOut,
    PromptOut,
    RenderIn,
    RenderOut,
    VersionListOut,
)
from dakora.api.telemetry import PROJECT, PROMPT_NAME, set_prompt_attributes, span
from dakora.registry.content import DEFAULT_SELECTOR, Selector

router = APIRouter(prefix="/api/projects/{project}", tags=["prompts"])

RefQ = Annotated[
    str | None,
    Query(description="Branch or tag (default: the project's default branch)"),
]
VersionQ = Annotated[
    str | None, Query(description="A version of the prompt, e.g. 1.2.0")
]
CommitQ = Annotated[str | None, Query(description="A commit sha (full or short)")]


def _param(
    name: str, where: str, description: str, required: bool = False
) -> dict[str, Any]:
    """An OpenAPI parameter object (JSON) for a route's ``openapi_extra``."""
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


PROJECT_PARAM = _param(
    "project",
    "path",
    "The project's UUID (listed by GET /api/me) or 'workspace~slug'",
    required=True,
)
SELECTOR_PARAMS = [
    _param("ref", "query", "Branch or tag (default: the project's default branch)"),
    _param("version", "query", "A version of the prompt, e.g. 1.2.0"),
    _param("commit", "query", "A commit sha (full or short)"),
]


@router.get(
    "/prompts/{prompt_id}",
    response_model=PromptOut,
    responses={**ERROR_RESPONSES, 304: {"description": "Not modified (ETag)"}},
    summary="Get a prompt (ETag = blob sha; If-None-Match → 304)",
    openapi_extra={
        "parameters": [
            PROJECT_PARAM,
            _param("prompt_id", "path", "The prompt's id", required=True),
            *SELECTOR_PARAMS,
        ]
    },
)
async def get_prompt(request: Request) -> Response:
    # The warm path (docs/design.md §7): parameters are read by hand rather than through
    # FastAPI's dependency machinery, which costs more than the rest of the request.
    access = check_access(request, "read")
    selector = (
        Selector.from_query(request.query_params)
        if request.scope["query_string"]
        else DEFAULT_SELECTOR
    )
    prompt_id = request.path_params["prompt_id"]
    content, project = access.content, access.project
    body = content.cached_prompt_body(project, prompt_id, selector)
    if body is None:  # a miss reads the index and the repository, and a replica may
        # wait for the mirror to catch up: never on the event loop (docs/design.md §15)
        body = await run_in_threadpool(
            content.prompt_body, project, prompt_id, selector
        )
    return respond(request, body)


@router.get(
    "/prompts",
    response_model=PromptListOut,
    responses=ERROR_RESPONSES,
    summary="List the prompts at a ref",
)
def list_prompts(  # sync: FastAPI runs it in a thread (reads may wait, §15)
    request: Request,
    access: ReadAccess,
    ref: RefQ = None,
    commit: CommitQ = None,
    detail: Annotated[
        bool, Query(description="Add each prompt's kind and tags (metadata.tags)")
    ] = False,
) -> Response:
    selector = Selector.of(ref=ref, commit=commit)
    body = access.content.list_body(access.project, selector, detail=detail)
    return respond(request, body)


RENDER_BODY = {
    "required": True,
    "content": {"application/json": {"schema": RenderIn.model_json_schema()}},
}


@router.post(
    "/prompts/{prompt_id}/render",
    response_model=RenderOut,
    responses={
        **ERROR_RESPONSES,
        400: {"model": ErrorOut, "description": "The template failed to render"},
        422: {
            "model": ErrorOut,
            "description": "Bad inputs (every one is listed: invalid_inputs), or the "
            "render went over a limit (render_limit: details.limit names it)",
        },
    },
    summary="Render a prompt with inputs",
    openapi_extra={
        "parameters": [
            PROJECT_PARAM,
            _param("prompt_id", "path", "The prompt's id", required=True),
        ],
        "requestBody": RENDER_BODY,
    },
)
async def render_prompt(request: Request) -> Response:
    # The body is read and validated by hand (api/render_request.py: FastAPI's very
    # 422s, in FastAPI's order); the render runs in a worker process
    # (api/render_pool.py), driven from the event loop — never rendered on it.
    body = decode_body(await request.body(), request.headers.get("content-type"))
    access = check_access(request, "read")
    parsed = validate_body(body)
    prompt_id = request.path_params["prompt_id"]
    metrics = access.state.metrics
    start = time.perf_counter()
    project = access.project
    # a dakora.render span when a tracer provider is configured (docs/telemetry.md)
    where = f"{project.workspace_slug}/{project.slug}"
    with span("dakora.render", {PROMPT_NAME: prompt_id, PROJECT: where}) as s:
        try:
            data = await render(
                access.content,
                project,
                prompt_id,
                selector_of(parsed),
                parsed.inputs,
                observe=(lambda d: set_prompt_attributes(s, d)) if s else None,
            )
        finally:
            if metrics is not None:
                metrics.render_seconds.observe(time.perf_counter() - start)
    return json_bytes(data)


@router.get(
    "/prompts/{prompt_id}/versions",
    response_model=VersionListOut,
    responses=ERROR_RESPONSES,
    summary="Versions of a prompt reachable from a ref, newest first",
)
def list_versions(  # sync: in a thread, as list_prompts
    access: ReadAccess, prompt_id: str, ref: RefQ = None, commit: CommitQ = None
) -> Response:
    selector = Selector.of(ref=ref, commit=commit)
    return json_bytes(access.content.versions_body(access.project, prompt_id, selector))


@router.get(
    "/prompts/{prompt_id}/diff",
    response_model=DiffOut,
    responses=ERROR_RESPONSES,
    summary="Unified diff of a prompt between two versions or revisions",
)
def diff_prompt(  # sync: in a thread, as list_prompts
    access: ReadAccess,
    prompt_id: str,
    from_: Annotated[
        str, Query(alias="from", description="A version (1.0.0), branch, tag or sha")
    ],
    to: Annotated[
        str | None,
        Query(description="A version, branch, tag or sha (default: default branch)"),
    ] = None,
) -> Response:
    return json_bytes(access.content.diff_body(access.project, prompt_id, from_, to))
