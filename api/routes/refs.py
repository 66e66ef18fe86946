"""``GET /api/projects/{project}/refs``: the project's branches and tags.

Each ref with its (peeled) commit, the commit's date (UTC), its kind, whether it is
the default branch and whether it is protected — the default branch and every name
or pattern of ``protected_refs`` in the default branch's ``dakora.yaml``: the same
rule the receive pipeline applies (``hooks/push_checks.py``), so the Studio shows
exactly the refs a force push or delete would be refused on. Needs read access.

Order: the default branch first, then the other branches, then the tags (by name).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dakora.api.deps import ReadAccess
from dakora.api.schemas import ERROR_RESPONSES
from dakora.registry.checks import is_protected, protected_refs_at
from dakora.registry.core import DakoraError
from dakora.registry.git import read_commit

router = APIRouter(prefix="/api/projects/{project}", tags=["refs"])


class RefOut(BaseModel):
    name: str = Field(description="Short name: 'main', 'v1'")
    ref: str = Field(description="Full name: 'refs/heads/main', 'refs/tags/v1'")
    kind: Literal["branch", "tag"]
    commit: str = Field(description="The commit sha (tags peeled to their commit)")
    committed_at: datetime = Field(description="The commit's committer date (UTC)")
    protected: bool = Field(
        description="No delete or force push: the default branch and dakora.yaml's "
        "protected_refs"
    )
    default: bool = Field(description="True for the project's default branch")


class RefListOut(BaseModel):
    default_branch: str
    protected_refs: list[str] = Field(
        description="The protected_refs names/patterns of dakora.yaml on the default "
        "branch"
    )
    refs: list[RefOut]


@router.get(
    "/refs",
    response_model=RefListOut,
    responses=ERROR_RESPONSES,
    summary="Branches and tags with commit, date, protected and default flags",
)
def list_refs(access: ReadAccess) -> RefListOut:
    info, content = access.project, access.content
    freshen = content.freshen
    if freshen is not None:  # replicas: catch up first (a failure serves what is here)
        with contextlib.suppress(DakoraError, OSError):
            freshen(info)
    repo = content.repo(info)
    refs = repo.refs()
    default_ref = f"refs/heads/{info.default_branch}"
    patterns = protected_refs_at(repo.store, refs.get(default_ref))
    out: list[RefOut] = []
    for full, sha in refs.items():
        kind: Literal["branch", "tag"] = (
            "branch" if full.startswith("refs/heads/") else "tag"
        )
        commit = read_commit(repo.store, str(sha))
        out.append(
            RefOut(
                name=full.split("/", 2)[2],
                ref=full,
                kind=kind,
                commit=str(sha),
                committed_at=datetime.fromtimestamp(commit.commit_time, UTC),
                protected=is_protected(full, info.default_branch, patterns),
                default=full == default_ref,
            )
        )
    out.sort(key=lambda r: (not r.default, r.kind != "branch", r.name))
    return RefListOut(
        default_branch=info.default_branch, protected_refs=list(patterns), refs=out
    )
