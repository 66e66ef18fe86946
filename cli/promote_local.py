"""``dakora promote`` without a server: the same plan, commit and receive pipeline as
the server's promotion (``dakora.hooks.promote``), on the local repository.

The pipeline is the plain one (no database): the push checks with the version rules
across every local branch and tag, protected refs from the default branch's
``dakora.yaml``, the limits, a file lock on the repository and the compare-and-swap
of the target ref; on success a reflog line ``dakora promote: …`` (what
``dakora history --ref-log`` shows locally). A target branch that is checked out in
this working tree is refused, as ``git push`` refuses to move it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from dulwich.object_store import BaseObjectStore
from dulwich.refs import HEADREF
from dulwich.repo import Repo

from dakora.cli.local_repo import version_lookup
from dakora.hooks.commit_writer import Author, CommitWriter
from dakora.hooks.promote import (
    outcome_dict,
    plan_promotion,
    promote,
    resolve_source,
    resolve_target,
)
from dakora.hooks.push_checks import DefaultChecker
from dakora.hooks.receive import PushContext, PushResult, ReceivePipeline
from dakora.registry.checks import check_push
from dakora.registry.core import BadRequest, RefConflict
from dakora.registry.git import (
    PROMOTE_PREFIX,
    GitSnapshot,
    PromptRepository,
    append_ref_log,
    short_ref,
)


def _default_branch(store: BaseObjectStore, refs: dict[str, str], subdir: str) -> str:
    """dakora.yaml's default_branch on main (the protected-ref rules' anchor), else
    main."""
    main = refs.get("refs/heads/main")
    if main is None:
        return "main"
    config = GitSnapshot(store, main, subdir).config
    return str(config.default_branch) if "default_branch" in config.raw else "main"


def _checked_out(repo: Repo) -> str | None:
    if repo.bare:
        return None
    target = repo.refs.get_symrefs().get(HEADREF)
    return target.decode("utf-8", "replace") if target else None


def _pipeline(prompt_repo: PromptRepository, summary_of: list[str]) -> ReceivePipeline:
    def checker(repo: Repo, context: PushContext, refs: dict[str, str]) -> Any:
        return DefaultChecker(
            refs_before=refs,
            default_branch=context.default_branch or "main",
            version_lookup=version_lookup(prompt_repo),
            check_push=partial(check_push, subdir=prompt_repo.subdir),
        )

    def reflog(repo: Repo, result: PushResult) -> None:
        who = summary_of[0].encode("utf-8")
        for update in result.updates:
            append_ref_log(repo, update.ref, update.old, update.new, who, summary_of[1])

    return ReceivePipeline(checker_factory=checker, on_accepted=reflog)


def local_promote_run(
    prompt_repo: PromptRepository, body: dict[str, Any], name: str, email: str
) -> dict[str, Any]:
    repo = prompt_repo.repo
    source = resolve_source(repo, body["from"])
    target = resolve_target(repo, body["to"])
    if source[0] == target[0]:
        raise BadRequest(f"--from and --to are the same ref ({body['to']})")
    if _checked_out(repo) == target[0]:
        raise RefConflict(
            f"{short_ref(target[0])} is checked out in this working tree: switch to "
            "another branch first (moving it would leave your files behind), or "
            "promote with --remote"
        )
    plan = plan_promotion(
        repo.object_store,
        source=source,
        target=target,
        prompt_ids=body["prompts"],
        subdir=prompt_repo.subdir,
    )
    author = Author(name, email)
    moved = ", ".join(f"{p.id} {p.version}" for p in plan.prompts if p.changed)
    summary = [
        author.identity().decode("utf-8"),
        f"{PROMOTE_PREFIX}{moved} from {short_ref(source[0])}",
    ]
    refs = {k.decode(): v.decode() for k, v in repo.refs.as_dict().items()}
    context = PushContext(
        default_branch=_default_branch(repo.object_store, refs, prompt_repo.subdir),
        source="promote",
    )
    outcome = promote(
        CommitWriter(_pipeline(prompt_repo, summary)),
        repo,
        plan,
        author=author,
        context=context,
        allow_shared_parts=bool(body.get("allow_shared_parts")),
        message=body.get("message"),
    )
    return outcome_dict(outcome)
