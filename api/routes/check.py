"""``POST /api/projects/{project}/check``: the checks of a write, without the write.

The body names one file (a prompt under ``prompts/`` or a part
``parts/<category>/<name>.<ext>``; the folders ``dakora.yaml`` configures) and its
proposed content. The branch's tree with that file added or replaced is built in
memory and run through the receive pipeline's check phase — the very checks an API
write or a ``git push`` of that change meets (registry checks with the version rules
against the index, protected refs, limits; ``CommitWriter.check``). Nothing is written:
no object, ref, index or audit row. ``ok`` is false when a write would be refused
(an ``error`` finding); warnings and infos alone leave it true.

Read access is enough: it writes nothing, and a read key can already read every file
and render every prompt it would check (the Studio checks as you type before it knows
whether the commit will be allowed). A branch that does not exist yet is checked as
the write that creates it from the default branch.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dakora.api.deps import ReadAccess
from dakora.api.routes.writes import NAME_RE
from dakora.api.schemas import ERROR_RESPONSES, ErrorOut, unicode_text
from dakora.api.write_unit import Write, author_of, push_context
from dakora.hooks.commit_writer import FileChange
from dakora.registry.core import BadRequest, has_errors
from dakora.registry.git import PART_SUFFIXES, PROMPT_SUFFIXES, is_safe_relpath

router = APIRouter(prefix="/api/projects/{project}", tags=["writes"])

CHECK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {"model": ErrorOut, "description": "A bad path or branch name"},
    422: {"model": ErrorOut, "description": "A malformed body (names the field)"},
}


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        description="The file, relative to the prompt root: 'prompts/x.yaml' or "
        "'parts/<category>/<name>.md'",
        examples=["prompts/support/reply.yaml"],
    )
    content: str = Field(description="The proposed file text (UTF-8)")
    branch: str | None = Field(
        default=None, description="Branch to check against (default: default branch)"
    )

    _text = field_validator("path", "content", "branch")(unicode_text)


class CheckFindingOut(BaseModel):
    severity: Literal["error", "warning", "info"]
    path: str = Field(description="File the finding is about (may be another file)")
    line: int | None = Field(description="1-based line, or null")
    rule: str = Field(description="Stable rule id, e.g. undeclared-variable")
    message: str


class CheckOut(BaseModel):
    ok: bool = Field(description="False when a write of this content would be refused")
    findings: list[CheckFindingOut]
    branch: str = Field(description="The branch checked against")
    base: str | None = Field(
        description="The commit the proposed file was put on (null: empty repository)"
    )


def _checked_path(path: str, prompts_dir: str, parts_dir: str) -> str:
    """``path`` when it names a prompt or part file; BadRequest naming it otherwise."""
    what = (
        f"path {path!r} is not a prompt or part file: use "
        f"'{prompts_dir}/<name>.yaml' or '{parts_dir}/<category>/<name>.md' "
        "(.txt and .j2 parts too)"
    )
    if not is_safe_relpath(path):
        raise BadRequest(f"{what}; it must be relative, without '..'", path=path)
    if path.startswith(prompts_dir + "/") and path.endswith(PROMPT_SUFFIXES):
        return path
    if path.startswith(parts_dir + "/"):
        rest = path[len(parts_dir) + 1 :].split("/")
        if len(rest) == 2 and rest[1].endswith(PART_SUFFIXES):
            category, name = rest[0], rest[1].rsplit(".", 1)[0]
            if NAME_RE.match(category) and NAME_RE.match(name):
                return path
    raise BadRequest(what, path=path)


@router.post(
    "/check",
    response_model=CheckOut,
    responses=CHECK_RESPONSES,
    summary="Run the checks of a write on proposed file content (writes nothing)",
)
def check_file(access: ReadAccess, body: CheckIn) -> CheckOut:
    # sync: the checks compile templates (CPU); FastAPI runs it in its thread pool
    with Write(access, body.branch) as write:
        path = _checked_path(body.path, write.prompts_dir, write.parts_dir)
        findings = write.writer.check(
            write.repo,
            branch=write.branch,
            changes=[FileChange(path, body.content.encode("utf-8"))],
            author=author_of(access),
            context=push_context(access),
        )
        branch, base = write.branch, write.parent
    return CheckOut(
        ok=not has_errors(findings),
        findings=[CheckFindingOut(**f.to_dict()) for f in findings],
        branch=branch,
        base=base,
    )
