"""``POST /api/projects/{project}/promote``: move named prompts (and the parts they
include) from one ref onto a branch, as one commit (docs/promotion.md).

The commit is built by ``dakora.hooks.promote`` on the target's tip and goes through
the receive pipeline like any push (``dakora.hooks.commit_writer``): the same checks
(422 ``invalid_prompt`` with the findings, nothing written), the same lock and
compare-and-swap (409 ``ref_conflict`` when the target moved), the same audit row,
with ``source`` "promote". Needs a key with the ``write`` scope.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from dakora.api.deps import WriteAccess
from dakora.api.routes.check import CheckFindingOut
from dakora.api.routes.writes import WRITE_RESPONSES
from dakora.api.write_unit import Write, author_of, push_context
from dakora.hooks.promote import (
    PromotionOutcome,
    outcome_dict,
    plan_promotion,
    promote,
    resolve_source,
    resolve_target,
)
from dakora.registry.core import BadRequest

router = APIRouter(prefix="/api/projects/{project}", tags=["writes"])


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    prompts: list[str] = Field(min_length=1, description="Prompt ids to promote")
    from_: str = Field(alias="from", min_length=1, description="Source branch or tag")
    to: str = Field(min_length=1, description="Target branch (must exist)")
    allow_shared_parts: bool = Field(
        default=False,
        description="Promote even when a changed part is also included by prompts "
        "of the target that are not promoted (reported as warnings)",
    )
    message: str | None = Field(
        default=None, description="Commit message (the generated one is appended)"
    )


class PromotedPromptOut(BaseModel):
    id: str
    version: str | None = Field(description="The version taken from the source")
    previous_version: str | None = Field(description="On the target before (null: new)")
    path: str
    changed: bool


class PromotedPartOut(BaseModel):
    name: str = Field(description="category/name")
    path: str
    status: Literal["added", "changed", "unchanged"]
    included_by: list[str] = Field(description="The promoted prompts including it")
    shared_with: list[str] = Field(
        description="Prompts of the target, not promoted, that include it"
    )


class PromoteOut(BaseModel):
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    source_commit: str
    commit: str = Field(description="The target's new tip (its old tip if unchanged)")
    parent: str | None = Field(description="The target's tip before")
    changed: bool = Field(description="False when the target had these already")
    prompts: list[PromotedPromptOut]
    parts: list[PromotedPartOut]
    findings: list[CheckFindingOut] = Field(
        description="Warnings: shared parts (allow_shared_parts), check warnings"
    )
    messages: list[str] = Field(description="The remote: lines of the pipeline")

    model_config = ConfigDict(populate_by_name=True)


@router.post(
    "/promote",
    response_model=PromoteOut,
    response_model_by_alias=True,
    responses=WRITE_RESPONSES,
    summary="Promote prompts (and their parts) from one ref onto a branch",
)
def promote_prompts(access: WriteAccess, body: PromoteIn) -> PromoteOut:
    with Write(access, None) as write:
        source = resolve_source(write.repo, body.from_)
        target = resolve_target(write.repo, body.to)
        if source[0] == target[0]:
            raise BadRequest(f"--from and --to are the same ref ({body.to})")
        plan = plan_promotion(
            write.repo.object_store,
            source=source,
            target=target,
            prompt_ids=body.prompts,
        )
        outcome = promote(
            write.writer,
            write.repo,
            plan,
            author=author_of(access),
            context=push_context(access),
            allow_shared_parts=body.allow_shared_parts,
            message=body.message,
        )
    return promote_out(outcome)


def promote_out(outcome: PromotionOutcome) -> PromoteOut:
    return PromoteOut.model_validate(outcome_dict(outcome))
