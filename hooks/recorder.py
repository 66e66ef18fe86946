"""Recording pushes in the database: the index rows and the push audit log.

``record_accepted`` runs under the project lock right after the refs moved; it hands
the ref updates to ``dakora.registry.index.record_ref_updates`` (one transaction:
prompt_versions, prompt_heads, refs, push_events, mirror outbox, webhook outbox,
change event). ``record_rejected`` writes one ``push_events`` row per ref with
``result='rejected'`` and the messages the pusher saw, and the ``push.rejected``
webhook events. Both pass the push's ``source`` (git or api) on.
"""

from __future__ import annotations

from dulwich.repo import Repo

from dakora.hooks.receive import PushResult
from dakora.registry.db import Engine
from dakora.registry.index import record_ref_updates, record_rejected_push


def _updates(result: PushResult) -> list[tuple[str, str, str]]:
    return [(u.ref, u.old, u.new) for u in result.updates]


def record_accepted(engine: Engine, repo: Repo, result: PushResult) -> None:
    """Index an accepted push (raises on failure: the caller rolls the refs back)."""
    if result.context.project_id is None:
        return
    record_ref_updates(
        engine,
        str(result.context.project_id),
        repo,
        _updates(result),
        user_id=result.context.user_id,
        key_id=result.context.key_id,
        messages=list(result.messages),
        source=result.context.source,
    )


def record_rejected(engine: Engine, repo: Repo, result: PushResult) -> None:
    """Audit a rejected push (one push_events row per ref)."""
    if result.context.project_id is None:
        return
    record_rejected_push(
        engine,
        str(result.context.project_id),
        _updates(result),
        user_id=result.context.user_id,
        key_id=result.context.key_id,
        messages=list(result.messages),
        source=result.context.source,
    )
