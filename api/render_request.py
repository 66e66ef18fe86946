"""``POST …/prompts/{id}/render`` without FastAPI's per-request machinery.

The render route and the fast path (``api/fastpath.py``) read the body by hand, as
``get_prompt`` reads its query (docs/design.md §7): :func:`decode_body` is FastAPI's
reading of a JSON body (empty → missing; ``application/json`` or ``…+json`` → parsed;
any other or no ``Content-Type`` → the raw bytes, which then fail validation), and
:func:`validate_body` accepts the common shape with a few ``isinstance`` checks and
hands anything else to pydantic (:class:`~dakora.api.schemas.RenderIn`) for the very
errors, locations and messages FastAPI would report — so the 422 ``invalid_request``
bodies are the same, byte for byte (tests/unit/test_render_request.py compares them
with a route that declares ``body: RenderIn``). The order is FastAPI's too: a body
that is not JSON is a 422 before the credentials are looked at; a JSON body of the
wrong shape is one after them.

:func:`render` runs a render: from the caches on the event loop when the prompt was
rendered before (else resolved in a thread), in a render worker process driven from
the event loop (``RenderPool.render_async``).
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from dakora.api.render_pool import RenderPool
from dakora.api.schemas import RenderIn
from dakora.registry.content import (
    ContentStore,
    RenderJob,
    Selector,
    encode_render,
    render_failure,
)
from dakora.registry.core import DakoraError
from dakora.registry.tenancy import Project

MISSING: Any = object()  # no body at all
FIELDS = frozenset(RenderIn.model_fields)
_ADAPTER: TypeAdapter[RenderIn] = TypeAdapter(RenderIn)
BODY_PARSE_ERROR = "There was an error parsing the body"


def _is_json(content_type: str) -> bool:
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def decode_body(body: bytes, content_type: str | None) -> Any:
    """The body as FastAPI reads it: :data:`MISSING`, parsed JSON or the raw bytes.

    Raises ``RequestValidationError`` (``json_invalid``, 422) for JSON that does not
    parse, and ``HTTPException`` 400 for bytes ``json.loads`` cannot even decode."""
    if not body:
        return MISSING
    if not content_type or not _is_json(content_type):
        return body  # FastAPI's strict Content-Type: not parsed as JSON
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except Exception as exc:  # e.g. bytes that are not UTF-8
        raise HTTPException(status_code=400, detail=BODY_PARSE_ERROR) from exc


def quick_fields(
    value: Any,
) -> tuple[dict[str, Any], str | None, str | None, str | None] | None:
    """(inputs, ref, version, commit) of the common, valid body, without pydantic
    (None: let :func:`validate_body` decide)."""
    if type(value) is not dict or not FIELDS.issuperset(value):
        return None
    inputs = value.get("inputs", MISSING)
    if inputs is MISSING:
        inputs = {}
    elif type(inputs) is not dict:
        return None
    ref, version, commit = value.get("ref"), value.get("version"), value.get("commit")
    for got in (ref, version, commit):
        if got is not None and type(got) is not str:
            return None
    return inputs, ref, version, commit


def quick_body(value: Any) -> RenderIn | None:
    """:func:`quick_fields` as a :class:`RenderIn`."""
    fields = quick_fields(value)
    if fields is None:
        return None
    inputs, ref, version, commit = fields
    return RenderIn.model_construct(
        inputs=inputs, ref=ref, version=version, commit=commit
    )


def validate_body(value: Any) -> RenderIn:
    """The body as a :class:`RenderIn`; raises ``RequestValidationError`` with
    FastAPI's errors (``loc`` under ``body``)."""
    if value is MISSING:
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("body",),
                    "msg": "Field required",
                    "input": None,
                }
            ]
        )
    quick = quick_body(value)
    if quick is not None:
        return quick
    try:
        return _ADAPTER.validate_python(value, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**err, "loc": ("body", *err.get("loc", ()))}
                for err in exc.errors(include_url=False)
            ]
        ) from None


def selector_of(body: RenderIn) -> Selector:
    return Selector.of(ref=body.ref, version=body.version, commit=body.commit)


async def run_job(
    content: ContentStore,
    job: RenderJob,
    observe: Callable[[Mapping[str, Any]], None] | None = None,
) -> bytes:
    """Render a prepared job: in a worker process driven from the event loop when the
    renderer is the server's pool, else (in-process renderer) in a thread."""
    renderer = content.renderer
    try:
        if isinstance(renderer, RenderPool):
            if observe is None:  # the worker encodes the result (one JSON encoding)
                encoded = await renderer.render_encoded(
                    job.prompt, job.inputs, job.parts, cache_key=job.cache_key
                )
                return job.body_of(encoded)
            result = await renderer.render_async(
                job.prompt, job.inputs, job.parts, cache_key=job.cache_key
            )
        else:
            result = await run_in_threadpool(
                renderer.render,
                job.prompt,
                job.inputs,
                job.parts,
                cache_key=job.cache_key,
            )
    except DakoraError:
        raise
    except Exception as exc:
        raise render_failure(job.prompt.id, exc) from exc
    if observe is None:
        return job.body(result)
    data = job.data(result)
    observe(data)  # the trace span's attributes (docs/telemetry.md)
    return encode_render(data)


async def render(
    content: ContentStore,
    project: Project,
    prompt_id: str,
    selector: Selector,
    inputs: Mapping[str, Any],
    observe: Callable[[Mapping[str, Any]], None] | None = None,
) -> bytes:
    """The body of a render (422 for bad inputs, 400 when the template fails);
    ``observe`` sees the result before it is encoded."""
    job = content.cached_render_job(project, prompt_id, selector, inputs)
    if job is None:  # resolving may read the repository or the index: not here
        job = await run_in_threadpool(
            content.render_job, project, prompt_id, selector, inputs
        )
    return await run_job(content, job, observe)
