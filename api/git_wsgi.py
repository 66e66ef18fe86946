"""The WSGI side of git smart HTTP: dulwich's ``make_wsgi_chain`` per request.

``GitWSGIApp`` drops ``HTTP_TRANSFER_ENCODING`` (uvicorn already de-chunked the body;
dulwich would de-chunk it again and fail on pushes > 1 MiB), then runs dulwich's
chain with a per-request backend that carries who is pushing, and
``DakoraReceivePackHandler`` (the receive pipeline) for ``git-receive-pack``. One open
``Repo`` per repository path (``RepoCache``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.repo import Repo
from dulwich.server import Backend, UploadPackHandler
from dulwich.web import make_wsgi_chain

from dakora.api.git_auth import SCOPE_KEY, GitTarget
from dakora.hooks.receive import ReceivePipeline
from dakora.hooks.receive_pack import DakoraReceivePackHandler
from dakora.registry.git import refresh_packs


class RepoCache:
    """One open ``Repo`` per path (opening one per request leaks file descriptors)."""

    # replicas: bring the local repository up to the index before serving it
    freshen: Callable[[GitTarget], None] | None = None

    def __init__(self) -> None:
        self._repos: dict[str, Repo] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Repo:
        key = os.path.abspath(path)
        with self._lock:
            repo = self._repos.get(key)
            if repo is None:
                if not os.path.isdir(key):
                    raise NotGitRepository(f"no repository at {path}")
                repo = self._repos[key] = Repo(key)
            return repo

    def refresh(self, path: str) -> None:
        """Let the open ``Repo`` of ``path`` see packs added on disk since."""
        with self._lock:
            repo = self._repos.get(os.path.abspath(path))
        if repo is not None:
            refresh_packs(repo.object_store)

    def close(self) -> None:
        with self._lock:
            for repo in self._repos.values():
                repo.close()
            self._repos.clear()


class RequestBackend(Backend):
    """A dulwich backend for one request: one repository, one pusher."""

    def __init__(
        self, target: GitTarget, cache: RepoCache, pipeline: ReceivePipeline
    ) -> None:
        self.target = target
        self.cache = cache
        self.pipeline = pipeline
        self.push_context = target.push_context()

    def open_repository(self, path: str) -> Repo:
        if self.cache.freshen is not None:
            self.cache.freshen(self.target)
        try:
            return self.cache.get(self.target.repo_path)
        except (NotGitRepository, OSError) as exc:
            raise NotGitRepository(
                f"{self.target.workspace}/{self.target.project}.git has no repository"
            ) from exc


class GitWSGIApp:
    """dulwich's WSGI chain with our handlers, per request."""

    def __init__(self, cache: RepoCache, pipeline: ReceivePipeline) -> None:
        self.cache = cache
        self.pipeline = pipeline
        self.handlers: dict[bytes, Any] = {
            b"git-receive-pack": DakoraReceivePackHandler,
            b"git-upload-pack": UploadPackHandler,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        # uvicorn has already de-chunked the body (docs/design.md §12).
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        target = environ.get("asgi.scope", {}).get(SCOPE_KEY)
        if not isinstance(target, GitTarget):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"unauthenticated git request\n"]
        backend = RequestBackend(target, self.cache, self.pipeline)
        chain = make_wsgi_chain(backend, handlers=self.handlers)
        return chain(environ, start_response)
