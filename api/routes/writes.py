"""API writes as commits: create, update and delete prompts and parts.

Each route builds a commit on a branch (``branch`` in the body or query; default: the
project's default branch), authored and committed by the caller, and pushes it through
the same receive pipeline as ``git push`` (``dakora.hooks.commit_writer``): the same
checks (422 ``invalid_prompt`` with the findings, nothing written), the same project
lock and compare-and-swap (a lost race is 409 ``ref_conflict``, or 412
``precondition_failed`` when ``If-Match`` was sent), the same index, audit log
(``GET …/pushes``), mirror outbox and cache invalidation.

``If-Match`` (optional on PUT and DELETE) names the base the client edited: the
prompt's current version, its blob sha (the ``ETag`` of ``GET …/prompts/{id}``), or a
commit sha at which the prompt had its current content. Anything else is 412.

Needs a key with the ``write`` scope (or a member role); a read key gets 403.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from dakora.api.deps import WriteAccess
from dakora.api.schemas import ERROR_RESPONSES, ErrorOut
from dakora.api.write_schemas import (
    PartDeleteOut,
    PartWriteIn,
    PartWriteOut,
    PromptDeleteOut,
    PromptWriteIn,
    PromptWriteOut,
)
from dakora.api.write_unit import Write, find_part
from dakora.hooks.commit_writer import (
    FileChange,
    WriteOutcome,
    prompt_yaml,
    yaml_identity,
)
from dakora.registry.core import ID_PATTERN, AlreadyExists, BadRequest
from dakora.registry.git import PART_SUFFIXES

router = APIRouter(prefix="/api/projects/{project}", tags=["writes"])

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"model": ErrorOut, "description": "Exists already, or another write won"},
    412: {"model": ErrorOut, "description": "If-Match names a stale base"},
    422: {"model": ErrorOut, "description": "The checks refused it (with findings)"},
}

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The base you edited: current version, blob sha (ETag) or commit",
    ),
]
BranchQ = Annotated[
    str | None,
    Query(description="Branch to commit on (default: the project's default branch)"),
]


def _prompt_text(body: PromptWriteIn, prompt_id: str | None) -> str:
    """The file text of a request body; the URL's id fills in a missing one."""
    fields = body.fields()
    if body.yaml is not None:
        if fields:
            raise BadRequest(
                "send either 'yaml' or the prompt's fields, not both "
                f"(got yaml and {', '.join(sorted(fields))})"
            )
        return body.yaml
    if not fields:
        raise BadRequest("empty prompt: send its fields or 'yaml'")
    if prompt_id is not None and "id" not in fields:
        fields = {"id": prompt_id, **fields}
    return prompt_yaml(fields)


def _checked_id(value: str | None, where: str) -> str:
    if not value or not ID_PATTERN.match(value):
        raise BadRequest(
            f"invalid prompt id {value!r} in {where}: use lowercase letters, digits, "
            "'.', '_' and '-' (at most 128)",
            id=value,
        )
    return value


def _commit_fields(outcome: WriteOutcome) -> dict[str, Any]:
    """The ``CommitOut`` fields of a write's outcome."""
    return {
        "commit": outcome.commit,
        "parent": outcome.parent,
        "branch": outcome.branch,
        "changed": outcome.changed,
        "messages": outcome.messages,
    }


def _prompt_out(
    outcome: WriteOutcome, prompt_id: str, version: str | None, path: str
) -> PromptWriteOut:
    return PromptWriteOut(
        id=prompt_id, version=version, path=path, **_commit_fields(outcome)
    )


# -- prompts ---------------------------------------------------------------------------


@router.post(
    "/prompts",
    status_code=201,
    response_model=PromptWriteOut,
    responses=WRITE_RESPONSES,
    summary="Create a prompt (a commit on the branch, checked like a push)",
)
def create_prompt(access: WriteAccess, body: PromptWriteIn) -> PromptWriteOut:
    text = _prompt_text(body, None)
    guess = f"prompts/{body.id or 'new'}.yaml"
    prompt_id, version = yaml_identity(text, guess)
    prompt_id = _checked_id(prompt_id, "the prompt")
    with Write(access, body.branch) as write:
        path = f"{write.prompts_dir}/{prompt_id}.yaml"
        if write.snapshot is not None:
            existing = write.snapshot.path_of(prompt_id)
            if existing is not None:
                raise AlreadyExists(
                    f"prompt {prompt_id!r} exists already ({existing}); "
                    "use PUT to update it",
                    id=prompt_id,
                    path=existing,
                )
            if write.snapshot.exists(path):
                raise AlreadyExists(f"{path} exists already", path=path)
        message = body.message or f"Add prompt {prompt_id} {version or ''}".rstrip()
        outcome = write.commit(
            [FileChange(path, text.encode("utf-8"))], message, pinned=False
        )
    return _prompt_out(outcome, prompt_id, version, path)


@router.put(
    "/prompts/{prompt_id}",
    response_model=PromptWriteOut,
    responses=WRITE_RESPONSES,
    summary="Update a prompt (If-Match: the version, blob or commit you edited)",
)
def update_prompt(
    access: WriteAccess,
    prompt_id: str,
    body: PromptWriteIn,
    if_match: IfMatch = None,
) -> PromptWriteOut:
    text = _prompt_text(body, prompt_id)
    with Write(access, body.branch) as write:
        path = write.existing_prompt(prompt_id)
        new_id, version = yaml_identity(text, path)
        if new_id != prompt_id:
            raise BadRequest(
                f"the body's id {new_id!r} is not {prompt_id!r}: renaming is a "
                "delete plus a create",
                id=new_id,
            )
        write.check_prompt_match(if_match, prompt_id, path)
        message = body.message or f"Update prompt {prompt_id} to {version}"
        outcome = write.commit(
            [FileChange(path, text.encode("utf-8"))],
            message,
            pinned=if_match is not None,
        )
    return _prompt_out(outcome, prompt_id, version, path)


@router.delete(
    "/prompts/{prompt_id}",
    response_model=PromptDeleteOut,
    responses=WRITE_RESPONSES,
    summary="Delete a prompt (a commit removing its file)",
)
def delete_prompt(
    access: WriteAccess,
    prompt_id: str,
    branch: BranchQ = None,
    message: Annotated[str | None, Query(description="Commit message")] = None,
    if_match: IfMatch = None,
) -> PromptDeleteOut:
    with Write(access, branch) as write:
        path = write.existing_prompt(prompt_id)
        write.check_prompt_match(if_match, prompt_id, path)
        outcome = write.commit(
            [FileChange(path, None)],
            message or f"Delete prompt {prompt_id}",
            pinned=if_match is not None,
        )
    return PromptDeleteOut(id=prompt_id, path=path, **_commit_fields(outcome))


# -- parts -----------------------------------------------------------------------------


def _part_name(category: str | None, name: str | None) -> tuple[str, str]:
    for label, value in (("category", category), ("name", name)):
        if not value or not NAME_RE.match(value):
            raise BadRequest(
                f"invalid part {label} {value!r}: use letters, digits, '.', '_' and "
                "'-' (no '/')",
                **{label: value},
            )
    assert category is not None and name is not None
    if name.endswith(PART_SUFFIXES):
        name = name.rsplit(".", 1)[0]
    return category, name


def _part_ext(ext: str | None, default: str = "md") -> str:
    value = (ext or default).lstrip(".")
    if f".{value}" not in PART_SUFFIXES:
        allowed = ", ".join(s.lstrip(".") for s in PART_SUFFIXES)
        raise BadRequest(f"invalid part extension {value!r}: use {allowed}", ext=value)
    return value


def _part_out(
    outcome: WriteOutcome, category: str, name: str, path: str
) -> dict[str, Any]:
    return {
        "category": category,
        "name": name,
        "path": path,
        **_commit_fields(outcome),
    }


@router.post(
    "/parts",
    status_code=201,
    response_model=PartWriteOut,
    responses=WRITE_RESPONSES,
    summary="Create a part (parts/<category>/<name>.<ext>)",
)
def create_part(access: WriteAccess, body: PartWriteIn) -> PartWriteOut:
    category, name = _part_name(body.category, body.name)
    ext = _part_ext(body.ext)
    with Write(access, body.branch) as write:
        existing = find_part(write.snapshot, category, name)
        if existing is not None:
            raise AlreadyExists(
                f"part {category}/{name} exists already ({existing}); use PUT",
                path=existing,
            )
        path = f"{write.parts_dir}/{category}/{name}.{ext}"
        outcome = write.commit(
            [FileChange(path, body.content.encode("utf-8"))],
            body.message or f"Add part {category}/{name}",
            pinned=False,
        )
    return PartWriteOut(**_part_out(outcome, category, name, path))


@router.put(
    "/parts/{category}/{name}",
    response_model=PartWriteOut,
    responses=WRITE_RESPONSES,
    summary="Update a part (a new ext renames its file)",
)
def update_part(
    access: WriteAccess,
    category: str,
    name: str,
    body: PartWriteIn,
    if_match: IfMatch = None,
) -> PartWriteOut:
    category, name = _part_name(category, name)
    if (body.category and body.category != category) or (
        body.name and _part_name(category, body.name)[1] != name
    ):
        raise BadRequest("the body's category/name differ from the URL's")
    with Write(access, body.branch) as write:
        existing = write.existing_part(category, name, if_match)
        ext = _part_ext(body.ext, existing.rsplit(".", 1)[-1])
        path = f"{write.parts_dir}/{category}/{name}.{ext}"
        changes = [FileChange(path, body.content.encode("utf-8"))]
        if path != existing:
            changes.insert(0, FileChange(existing, None))
        outcome = write.commit(
            changes,
            body.message or f"Update part {category}/{name}",
            pinned=if_match is not None,
        )
    return PartWriteOut(**_part_out(outcome, category, name, path))


@router.delete(
    "/parts/{category}/{name}",
    response_model=PartDeleteOut,
    responses=WRITE_RESPONSES,
    summary="Delete a part (refused while a prompt includes it)",
)
def delete_part(
    access: WriteAccess,
    category: str,
    name: str,
    branch: BranchQ = None,
    message: Annotated[str | None, Query(description="Commit message")] = None,
    if_match: IfMatch = None,
) -> PartDeleteOut:
    category, name = _part_name(category, name)
    with Write(access, branch) as write:
        existing = write.existing_part(category, name, if_match)
        outcome = write.commit(
            [FileChange(existing, None)],
            message or f"Delete part {category}/{name}",
            pinned=if_match is not None,
        )
    return PartDeleteOut(**_part_out(outcome, category, name, existing))
