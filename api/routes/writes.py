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

import contextlib
import re
from typing import Annotated, Any

from dulwich.repo import Repo
from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dakora.api.auth import Caller
from dakora.api.deps import Access, WriteAccess
from dakora.api.git_http import server_pipeline
from dakora.api.schemas import ERROR_RESPONSES, ErrorOut
from dakora.hooks.commit_writer import (
    Author,
    CommitWriter,
    FileChange,
    WriteOutcome,
    base_snapshot,
    prompt_yaml,
    yaml_identity,
)
from dakora.hooks.receive import PushContext
from dakora.registry.core import (
    ID_PATTERN,
    AlreadyExists,
    BadRequest,
    DakoraError,
    PartNotFound,
    PreconditionFailed,
    PromptNotFound,
    StorageError,
)
from dakora.registry.db import read, users
from dakora.registry.git import PART_SUFFIXES, GitSnapshot, prompt_identity

router = APIRouter(prefix="/api/projects/{project}", tags=["writes"])

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SHA_PREFIX_RE = re.compile(r"^[0-9a-f]{7,40}$")

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


# -- schemas ---------------------------------------------------------------------------


class PromptWriteIn(BaseModel):
    """A prompt as JSON fields (docs/design.md §2), or its file text as ``yaml``.

    Unknown keys are written into the file, so the checks name them (file:line).
    """

    model_config = ConfigDict(extra="allow")

    yaml: str | None = Field(default=None, description="The whole prompt file")
    id: Any = None
    version: Any = None
    description: Any = None
    template: Any = None
    messages: Any = None
    inputs: Any = None
    model: Any = None
    metadata: Any = None
    examples: Any = None
    branch: str | None = Field(default=None, description="Default: default branch")
    message: str | None = Field(default=None, description="Commit message")

    def fields(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"yaml", "branch", "message"})
        data.update(self.model_extra or {})
        return {k: v for k, v in data.items() if v is not None}


class PartWriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, description="parts/<category>/")
    name: str | None = Field(default=None, description="File name without extension")
    ext: str | None = Field(default=None, description="md (default), txt or j2")
    content: str
    branch: str | None = None
    message: str | None = None


class CommitOut(BaseModel):
    commit: str = Field(description="The new head of the branch")
    parent: str | None = Field(description="The head before the write")
    branch: str
    changed: bool = Field(description="False when the content was already there")
    messages: list[str] = Field(default_factory=list)


class PromptWriteOut(CommitOut):
    id: str
    version: str | None
    path: str


class PromptDeleteOut(CommitOut):
    id: str
    path: str
    deleted: bool = True


class PartWriteOut(CommitOut):
    category: str
    name: str
    path: str


class PartDeleteOut(PartWriteOut):
    deleted: bool = True


# -- helpers ---------------------------------------------------------------------------


def author_of(access: Access) -> Author:
    """The caller as a git identity: the user record when there is one, else the key
    (``key:<name> <key-id@dakora>``)."""
    caller: Caller = access.caller
    user_id = caller.key.user_id if caller.key is not None else caller.user_id
    name = email = None
    if user_id is not None:
        try:
            with read(access.state.engine) as conn:
                row = conn.execute(
                    select(users.c.name, users.c.email).where(users.c.id == user_id)
                ).first()
        except DakoraError:
            row = None
        if row is not None:
            name, email = row.name, row.email
    if caller.kind == "user":
        email = email or caller.email
        name = name or email or caller.subject
    if name or email:
        return Author(name or str(email), email or f"{user_id}@dakora")
    if caller.key is not None:
        label = caller.key.name or caller.key.display
        return Author(f"key:{label}", f"{caller.key.id}@dakora")
    return Author("dakora", "local@dakora")


def _context(access: Access) -> PushContext:
    info, caller = access.project, access.caller
    user_id = caller.key.user_id if caller.key is not None else caller.user_id
    return PushContext(
        workspace=info.workspace_slug,
        project=info.slug,
        project_id=info.id,
        user=user_id,
        user_id=user_id,
        key_id=caller.key_id,
        default_branch=info.default_branch,
        source="api",
    )


class _Write:
    """One write: the repository opened for it, the branch and its base."""

    def __init__(self, access: Access, branch: str | None) -> None:
        self.access = access
        info = access.project
        freshen = access.content.freshen
        if freshen is not None:  # replicas: catch up before reading the base
            # on failure the pipeline's ref guard still checks the base under the lock
            with contextlib.suppress(DakoraError, OSError):
                freshen(info)
        try:
            self.repo = Repo(str(info.repo_path))
        except Exception as exc:  # dulwich NotGitRepository, OSError
            raise StorageError(f"{info.full_slug} has no repository") from exc
        self.writer = CommitWriter(server_pipeline(access.state))
        self.branch = branch or info.default_branch
        try:
            self.ref, self.old, self.parent = self.writer.start_point(
                self.repo, self.branch, info.default_branch
            )
            self.snapshot: GitSnapshot | None = base_snapshot(self.repo, self.parent)
        except BaseException:
            self.repo.close()
            raise

    def __enter__(self) -> _Write:
        return self

    def __exit__(self, *exc: object) -> None:
        self.repo.close()

    @property
    def prompts_dir(self) -> str:
        return self.snapshot.prompts_dir if self.snapshot is not None else "prompts"

    @property
    def parts_dir(self) -> str:
        return self.snapshot.parts_dir if self.snapshot is not None else "parts"

    def commit(
        self, changes: list[FileChange], message: str, *, pinned: bool
    ) -> WriteOutcome:
        return self.writer.write(
            self.repo,
            branch=self.branch,
            changes=changes,
            author=author_of(self.access),
            message=message,
            context=_context(self.access),
            expected_parent=self.parent,
            pinned=pinned,
        )


def _if_match_values(header: str) -> list[str]:
    out = []
    for item in header.split(","):
        value = item.strip().removeprefix("W/").strip().strip('"').strip()
        if value:
            out.append(value)
    return out


def _blob_at(repo: Repo, commit: str, path_of: Any) -> str | None:
    """The blob ``path_of(snapshot)`` names at ``commit`` (None when absent)."""
    try:
        snap = GitSnapshot(repo.object_store, commit)
    except DakoraError:
        return None
    path = path_of(snap)
    if path is None or not snap.exists(path):
        return None
    return snap.blob_sha(path)


def _resolve_commit(repo: Repo, value: str) -> str | None:
    value = value.lower()
    if not SHA_PREFIX_RE.match(value):
        return None
    if len(value) == 40:
        return value if value.encode() in repo.object_store else None
    matches = {
        sha.decode("ascii")
        for sha in repo.object_store.iter_prefix(value.encode("ascii"))
    }
    return matches.pop() if len(matches) == 1 else None


def _existing_prompt(write: _Write, prompt_id: str) -> str:
    """The prompt's path on the write's branch; PromptNotFound otherwise."""
    snap = write.snapshot
    path = snap.path_of(prompt_id) if snap is not None else None
    if path is None:
        raise PromptNotFound(
            f"prompt {prompt_id!r} not found on {write.branch}", id=prompt_id
        )
    return path


def _check_prompt_match(
    write: _Write, if_match: str | None, prompt_id: str, path: str
) -> None:
    snap = write.snapshot
    assert snap is not None  # _existing_prompt found the prompt in it
    ident = prompt_identity(snap, path)
    check_if_match(
        write,
        if_match,
        current_blob=snap.blob_sha(path),
        current_version=ident[1] if ident else None,
        path_of=lambda s: s.path_of(prompt_id),
    )


def _existing_part(
    write: _Write, category: str, name: str, if_match: str | None
) -> str:
    """The part's path on the write's branch, after the If-Match check."""
    snap = write.snapshot
    existing = _find_part(snap, category, name)
    if snap is None or existing is None:
        raise PartNotFound(f"part {category}/{name} not found on {write.branch}")
    check_if_match(
        write,
        if_match,
        current_blob=snap.blob_sha(existing),
        current_version=None,
        path_of=lambda s: _find_part(s, category, name),
    )
    return existing


def check_if_match(
    write: _Write,
    header: str | None,
    *,
    current_blob: str,
    current_version: str | None,
    path_of: Any,
) -> None:
    """412 unless ``If-Match`` names the current content (see the module docstring)."""
    if header is None:
        return
    values = _if_match_values(header)
    for value in values:
        if value == "*":
            return
        if current_version is not None and value == current_version:
            return
        if value == current_blob:
            return
        commit = _resolve_commit(write.repo, value)
        if commit is not None and _blob_at(write.repo, commit, path_of) == current_blob:
            return
    raise PreconditionFailed(
        f"If-Match {header!r} does not match the current content "
        f"(version {current_version}, blob {current_blob[:12]}) on {write.branch}; "
        "fetch it again and reapply your change",
        current_version=current_version,
        current_blob=current_blob,
    )


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


def _prompt_out(
    outcome: WriteOutcome, prompt_id: str, version: str | None, path: str
) -> PromptWriteOut:
    return PromptWriteOut(
        id=prompt_id,
        version=version,
        path=path,
        commit=outcome.commit,
        parent=outcome.parent,
        branch=outcome.branch,
        changed=outcome.changed,
        messages=outcome.messages,
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
    with _Write(access, body.branch) as write:
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
    with _Write(access, body.branch) as write:
        path = _existing_prompt(write, prompt_id)
        new_id, version = yaml_identity(text, path)
        if new_id != prompt_id:
            raise BadRequest(
                f"the body's id {new_id!r} is not {prompt_id!r}: renaming is a "
                "delete plus a create",
                id=new_id,
            )
        _check_prompt_match(write, if_match, prompt_id, path)
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
    with _Write(access, branch) as write:
        path = _existing_prompt(write, prompt_id)
        _check_prompt_match(write, if_match, prompt_id, path)
        outcome = write.commit(
            [FileChange(path, None)],
            message or f"Delete prompt {prompt_id}",
            pinned=if_match is not None,
        )
    return PromptDeleteOut(
        id=prompt_id,
        path=path,
        commit=outcome.commit,
        parent=outcome.parent,
        branch=outcome.branch,
        changed=outcome.changed,
        messages=outcome.messages,
    )


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


def _find_part(snap: GitSnapshot | None, category: str, name: str) -> str | None:
    if snap is None:
        return None
    found = snap.parts.get_source(f"{category}/{name}")
    return found[1] if found is not None else None


def _part_out(
    outcome: WriteOutcome, category: str, name: str, path: str
) -> dict[str, Any]:
    return {
        "category": category,
        "name": name,
        "path": path,
        "commit": outcome.commit,
        "parent": outcome.parent,
        "branch": outcome.branch,
        "changed": outcome.changed,
        "messages": outcome.messages,
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
    with _Write(access, body.branch) as write:
        existing = _find_part(write.snapshot, category, name)
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
    with _Write(access, body.branch) as write:
        existing = _existing_part(write, category, name, if_match)
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
    with _Write(access, branch) as write:
        existing = _existing_part(write, category, name, if_match)
        outcome = write.commit(
            [FileChange(existing, None)],
            message or f"Delete part {category}/{name}",
            pinned=if_match is not None,
        )
    return PartDeleteOut(**_part_out(outcome, category, name, existing))
