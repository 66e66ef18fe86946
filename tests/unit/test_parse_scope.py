"""``parse_scope``: within it each prompt file is parsed once, however small the
parse cache; outside it the LRU alone decides (docs/performance.md)."""

from __future__ import annotations

import threading

import pytest
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob

import dakora.registry.git.prompt_cache as prompt_cache
from dakora.registry.git import load_blob_with_findings, parse_scope
from tests.fixtures.gitrepos import make_prompt_yaml


def _blobs(store: MemoryObjectStore, count: int) -> list[str]:
    out = []
    for n in range(count):
        blob = Blob.from_string(
            make_prompt_yaml(id=f"scope-{n}", version="1.0.0").encode()
        )
        store.add_object(blob)
        out.append(blob.id.decode())
    return out


def _misses(store: MemoryObjectStore, shas: list[str], rounds: int) -> int:
    before = prompt_cache.load_cache_info().misses
    for _ in range(rounds):
        for n, sha in enumerate(shas):
            loaded, _ = load_blob_with_findings(store, sha, f"prompts/p{n}.yaml")
            assert loaded is not None and loaded.prompt.id == f"scope-{n}"
    return prompt_cache.load_cache_info().misses - before


def test_each_file_is_parsed_once_in_a_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    prompt_cache.clear_load_cache()
    monkeypatch.setattr(prompt_cache._CACHE, "_maxsize", 2)
    store = MemoryObjectStore()
    shas = _blobs(store, 6)
    assert _misses(store, shas, 3) == 18  # a cycle through 6 thrashes an LRU of 2
    prompt_cache.clear_load_cache()
    with parse_scope():
        with parse_scope():  # nested: the outer scope's
            assert _misses(store, shas, 3) == 6
        assert _misses(store, shas, 1) == 0
    prompt_cache.clear_load_cache()
    assert _misses(store, shas, 1) == 6  # the scope is gone


def test_a_scope_is_per_thread() -> None:
    prompt_cache.clear_load_cache()
    seen: list[object] = []
    with parse_scope():
        thread = threading.Thread(
            target=lambda: seen.append(getattr(prompt_cache._SCOPE, "kept", None))
        )
        thread.start()
        thread.join()
        assert prompt_cache._SCOPE.kept is not None
    assert seen == [None]
    assert prompt_cache._SCOPE.kept is None
