"""What both snapshot kinds share on top of a few primitive reads (``read``,
``blob_sha``, ``is_symlink``, ``exists``, ``list_dir``): ``dakora.yaml``, the prompt
listing, loading and lookup by id, and the ``parts/`` folder as a ``PartsSource``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dakora.registry.core import (
    BlobSha,
    Finding,
    InvalidPrompt,
    PromptNotFound,
)
from dakora.registry.git.layout import (
    CONFIG_PATH,
    PART_SUFFIXES,
    PROMPT_SUFFIXES,
    clean_dir,
    part_candidates,
)
from dakora.registry.git.prompt_cache import load_with_findings, prompt_identity
from dakora.registry.load import LoadedPrompt, RepoConfig, load_config

if TYPE_CHECKING:
    from dakora.registry.git.snapshot import Snapshot


class SnapshotBase:
    """What both snapshot kinds share, on top of a few primitive reads."""

    _config_cache: tuple[RepoConfig, list[Finding]] | None = None
    _index_cache: dict[str, str] | None = None

    # primitives ----------------------------------------------------------------------
    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def blob_sha(self, path: str) -> BlobSha:
        raise NotImplementedError

    def is_symlink(self, path: str) -> bool:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def list_dir(self, folder: str) -> list[str]:
        """Every file path below ``folder`` (recursive), sorted; [] when absent."""
        raise NotImplementedError

    # shared --------------------------------------------------------------------------
    def _config_and_findings(self) -> tuple[RepoConfig, list[Finding]]:
        if self._config_cache is None:
            data = self.read(CONFIG_PATH) if self.exists(CONFIG_PATH) else None
            self._config_cache = load_config(data, CONFIG_PATH)
        return self._config_cache

    @property
    def config(self) -> RepoConfig:
        return self._config_and_findings()[0]

    def config_findings(self) -> list[Finding]:
        """Findings of ``dakora.yaml`` (empty when absent or clean)."""
        return list(self._config_and_findings()[1])

    @property
    def prompts_dir(self) -> str:
        return clean_dir(self.config.prompts_dir, "prompts")

    @property
    def parts_dir(self) -> str:
        return clean_dir(self.config.parts_dir, "parts")

    def prompt_paths(self) -> list[str]:
        return [
            p
            for p in self.list_dir(self.prompts_dir)
            if p.endswith(PROMPT_SUFFIXES) and not self.is_symlink(p)
        ]

    def content_paths(self) -> list[str]:
        """The files the registry reads: dakora.yaml, prompts/**, parts/** (sorted)."""
        paths = set(self.list_dir(self.prompts_dir)) | set(
            self.list_dir(self.parts_dir)
        )
        for single in (CONFIG_PATH, self.prompts_dir, self.parts_dir):
            if self.exists(single):  # also a symlink standing in for a folder
                paths.add(single)
        return sorted(paths)

    def size(self, path: str) -> int:
        return len(self.read(path))

    def load(self, path: str) -> LoadedPrompt:
        if not self.exists(path):
            raise PromptNotFound(f"no prompt file {path}", path=path)
        prompt, findings = load_with_findings(self, path)  # type: ignore[arg-type]
        errors = [f for f in findings if f.severity == "error"]
        if prompt is None or errors:
            raise InvalidPrompt(errors or findings)
        return prompt

    def prompt_identities(
        self, base: Snapshot | None = None
    ) -> dict[str, tuple[str, str] | None]:
        """path → (id, version) of every prompt file (None when it doesn't load),
        sorted by path. Read-only: the result may be shared by a cache."""
        return {
            path: prompt_identity(self, path)  # type: ignore[arg-type]
            for path in self.prompt_paths()
        }

    def prompt_index(self) -> dict[str, str]:
        """id → path of every prompt that loads (the first path wins on duplicates)."""
        if self._index_cache is None:
            index: dict[str, str] = {}
            for path, ident in self.prompt_identities().items():
                if ident is not None and ident[0] not in index:
                    index[ident[0]] = path
            self._index_cache = index
        return dict(self._index_cache)

    def path_of(self, prompt_id: str) -> str | None:
        """Path of the prompt with this id, or None. Tries files named after the id
        first (``prompts/**/<id>.yaml``) so a cold lookup needn't parse every file."""
        if self._index_cache is None:
            for path in self.prompt_paths():
                stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                if stem == prompt_id:
                    ident = prompt_identity(self, path)  # type: ignore[arg-type]
                    if ident is not None and ident[0] == prompt_id:
                        return path
        return self.prompt_index().get(prompt_id)

    def find_prompt(self, prompt_id: str) -> LoadedPrompt:
        path = self.path_of(prompt_id)
        if path is None:
            raise PromptNotFound(f"prompt '{prompt_id}' not found", prompt_id=prompt_id)
        return self.load(path)

    def prompts(self) -> list[LoadedPrompt]:
        out: list[LoadedPrompt] = []
        for path in self.prompt_paths():
            prompt, findings = load_with_findings(self, path)  # type: ignore[arg-type]
            if prompt is not None and not any(f.severity == "error" for f in findings):
                out.append(prompt)
        return out


class SnapshotParts:
    """``parts/`` of a snapshot; ``key`` is supplied by the subclass."""

    def __init__(self, snapshot: SnapshotBase, parts_dir: str) -> None:
        self._snapshot = snapshot
        self._dir = parts_dir
        self._names: list[str] | None = None

    @property
    def key(self) -> str:
        raise NotImplementedError

    def files(self) -> list[str]:
        """Repo paths of every part file (``parts/<category>/<name>.<ext>``)."""
        prefix = self._dir + "/"
        out = []
        for path in self._snapshot.list_dir(self._dir):
            rel = path[len(prefix) :]
            if (
                rel.count("/") == 1
                and rel.endswith(PART_SUFFIXES)
                and not self._snapshot.is_symlink(path)
            ):
                out.append(path)
        return out

    def names(self) -> list[str]:
        if self._names is None:
            prefix = len(self._dir) + 1
            self._names = sorted({p[prefix:].rsplit(".", 1)[0] for p in self.files()})
        return list(self._names)

    def get_source(self, name: str) -> tuple[str, str] | None:
        for candidate in part_candidates(name):
            path = f"{self._dir}/{candidate}"
            if self._snapshot.exists(path) and not self._snapshot.is_symlink(path):
                data = self._snapshot.read(path)
                return data.decode("utf-8", errors="replace"), path
        return None
