"""One API write as a unit of work: the project's repository opened for it, the
branch and the base commit the change is built on, the caller as git author, the
lookups of the prompt or part being changed with the ``If-Match`` precondition, and
the commit through the server's receive pipeline (``dakora.hooks.commit_writer``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from dulwich.repo import Repo

from dakora.api.deps import Access
from dakora.api.git_http import server_pipeline
from dakora.hooks.commit_writer import (
    Author,
    CommitWriter,
    FileChange,
    WriteOutcome,
    base_snapshot,
)
from dakora.hooks.receive import PushContext
from dakora.registry.content import if_match_satisfied
from dakora.registry.core import (
    DakoraError,
    PartNotFound,
    PreconditionFailed,
    PromptNotFound,
    StorageError,
)
from dakora.registry.git import GitSnapshot, prompt_identity
from dakora.registry.tenancy import get_user


def author_of(access: Access) -> Author:
    """The caller as a git identity: the user record when there is one, else the key
    (``key:<name> <key-id@dakora>``)."""
    caller = access.caller
    user_id = caller.key.user_id if caller.key is not None else caller.user_id
    name = email = None
    if user_id is not None:
        try:
            user = get_user(access.state.engine, user_id)
        except DakoraError:
            user = None
        if user is not None:
            name, email = user.name, user.email
    if caller.kind == "user":
        email = email or caller.email
        name = name or email or caller.subject
    if name or email:
        return Author(name or str(email), email or f"{user_id}@dakora")
    if caller.key is not None:
        label = caller.key.name or caller.key.display
        return Author(f"key:{label}", f"{caller.key.id}@dakora")
    return Author("dakora", "local@dakora")


def push_context(access: Access) -> PushContext:
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
        source=access.source,
    )


def find_part(snap: GitSnapshot | None, category: str, name: str) -> str | None:
    """The path of part ``category/name`` (any extension) in ``snap``, or None."""
    if snap is None:
        return None
    found = snap.parts.get_source(f"{category}/{name}")
    return found[1] if found is not None else None


class Write:
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
            raise StorageError(f"{info.full_name} has no repository") from exc
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

    def __enter__(self) -> Write:
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
            context=push_context(self.access),
            expected_parent=self.parent,
            pinned=pinned,
        )

    # -- the thing being changed ------------------------------------------------------

    def existing_prompt(self, prompt_id: str) -> str:
        """The prompt's path on the branch; PromptNotFound otherwise."""
        snap = self.snapshot
        path = snap.path_of(prompt_id) if snap is not None else None
        if path is None:
            raise PromptNotFound(
                f"prompt {prompt_id!r} not found on {self.branch}", id=prompt_id
            )
        return path

    def check_prompt_match(
        self, if_match: str | None, prompt_id: str, path: str
    ) -> None:
        """The If-Match check of the prompt at ``path`` (found by existing_prompt)."""
        snap = self.snapshot
        assert snap is not None  # existing_prompt found the prompt in it
        ident = prompt_identity(snap, path)
        self.check_if_match(
            if_match,
            current_blob=snap.blob_sha(path),
            current_version=ident[1] if ident else None,
            path_of=lambda s: s.path_of(prompt_id),
        )

    def existing_part(self, category: str, name: str, if_match: str | None) -> str:
        """The part's path on the branch, after the If-Match check."""
        snap = self.snapshot
        existing = find_part(snap, category, name)
        if snap is None or existing is None:
            raise PartNotFound(f"part {category}/{name} not found on {self.branch}")
        self.check_if_match(
            if_match,
            current_blob=snap.blob_sha(existing),
            current_version=None,
            path_of=lambda s: find_part(s, category, name),
        )
        return existing

    def check_if_match(
        self,
        header: str | None,
        *,
        current_blob: str,
        current_version: str | None,
        path_of: Callable[[GitSnapshot], str | None],
    ) -> None:
        """412 unless ``If-Match`` (when sent) names the current content."""
        if header is None or if_match_satisfied(
            self.repo.object_store,
            header,
            current_blob=current_blob,
            current_version=current_version,
            path_of=path_of,
        ):
            return
        raise PreconditionFailed(
            f"If-Match {header!r} does not match the current content "
            f"(version {current_version}, blob {current_blob[:12]}) on {self.branch}; "
            "fetch it again and reapply your change",
            current_version=current_version,
            current_blob=current_blob,
        )
