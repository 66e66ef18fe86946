"""SDK writes against a real ``dakora serve``: prompts.create/update/delete and
parts.create/update/delete/get/list on ``Dakora`` and ``AsyncDakora``, each a commit
through the receive checks; refused writes (typed findings), 409/412 conflicts, the
read key's permission error, and the cache entry of a written prompt being dropped."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dakora.client import (
    AsyncDakora,
    Conflict,
    Dakora,
    InvalidPrompt,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from tests.fixtures.gitrepos import GitRepoBuilder
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"
PROJECT = "sdkw/demo"
# A long TTL: a fetched prompt stays "fresh" for the whole test unless dropped.
LONG = {"cache_ttl": 3600.0, "stale_ttl": 3600.0}


@dataclass
class Env:
    server: LiveServer
    read_key: str
    write_key: str

    def client(self, key: str | None = None, **kw: Any) -> Dakora:
        return Dakora(self.server.base_url, key or self.write_key, PROJECT, **kw)

    def head(self, branch: str = "main") -> str:
        listing = self.client(self.read_key).prompts.list(ref=branch)
        assert listing.commit is not None
        return listing.commit


@pytest.fixture(scope="module")
def env(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    repo = GitRepoBuilder.init(tmp_path_factory.mktemp("sdkw") / "prompts-repo")
    for item in SAMPLE.iterdir():
        target = repo.path / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    repo.git("add", "-A")
    repo.commit("the sample prompts")
    live_server.create_project("sdkw", "demo", from_path=repo.path)
    yield Env(
        live_server,
        live_server.create_key(PROJECT, "read")["key"],
        live_server.create_key(PROJECT, "write")["key"],
    )


def test_create_update_render_delete_round_trip(env: Env) -> None:
    with env.client(**LONG) as c:
        created = c.prompts.create(
            "greet",
            "1.0.0",
            description="Greets someone",
            template="Hello {{ name }}!\n",
            inputs={"name": {"type": "string"}},
            message="Add greet from the SDK",
        )
        assert (created.prompt_id, created.version) == ("greet", "1.0.0")
        assert created.changed and created.branch == "main"
        assert created.path == "prompts/greet.yaml"
        assert created.commit == env.head()

        first = c.prompts.get("greet")
        assert (first.version, first.commit, first.source) == (
            "1.0.0",
            created.commit,
            "network",
        )
        assert c.prompts.get("greet").source == "cache"
        assert "greet" in c.prompts.list().ids()
        assert c.prompts.render("greet", {"name": "Ada"}).rendered == "Hello Ada!\n"

        updated = c.prompts.update(
            "greet", version="1.1.0", template="Hi {{ name }}, welcome back.\n"
        )
        assert updated.parent == created.commit and updated.version == "1.1.0"
        # the cached 1.0.0 was dropped: the next get goes to the server
        after = c.prompts.get("greet")
        assert (after.version, after.source) == ("1.1.0", "network")
        assert after.description == "Greets someone"  # kept by the merge
        assert after.inputs == {"name": {"type": "string"}}
        assert "greet" in c.prompts.list().ids()
        out = c.prompts.render("greet", {"name": "Ada"})
        assert (out.rendered, out.version) == ("Hi Ada, welcome back.\n", "1.1.0")
        assert c.prompts.render("greet", {"name": "Bo"}, version="1.0.0").rendered == (
            "Hello Bo!\n"
        )

        deleted = c.prompts.delete("greet", message="greet is retired")
        assert deleted.deleted and deleted.parent == updated.commit
        with pytest.raises(NotFound):
            c.prompts.get("greet")
        assert "greet" not in c.prompts.list().ids()
        # its versions stay fetchable from the history
        assert c.prompts.get("greet", version="1.1.0").version == "1.1.0"
    # each write was one push through the pipeline, audited with the key
    pushes = env.server.client(env.read_key).get(
        "/api/projects/sdkw~demo/pushes", params={"limit": 50}
    )
    assert pushes.status_code == 200, pushes.text
    audited = {(p["new"], p["result"]) for p in pushes.json()["pushes"]}
    for result in (created, updated, deleted):
        assert (result.commit, "ok") in audited


def test_chat_prompt_and_update_to_messages(env: Env) -> None:
    with env.client() as c:
        c.prompts.create(
            "helpdesk",
            "1.0.0",
            messages=[
                {"role": "system", "content": "You help with {{ product }}."},
                {"role": "user", "content": "{{ question }}"},
            ],
            inputs={"product": {"type": "string"}, "question": {"type": "string"}},
            model={"provider": "openai", "name": "gpt-4o-mini"},
            examples=[{"product": "Dakora", "question": "How?"}],
        )
        got = c.prompts.get("helpdesk")
        assert got.kind == "chat" and got.model == {
            "provider": "openai",
            "name": "gpt-4o-mini",
        }
        c.prompts.update("helpdesk", version="2.0.0", template="Q: {{ question }}")
        text = c.prompts.get("helpdesk")
        assert text.kind == "text" and text.template == "Q: {{ question }}"
        assert set(text.inputs) == {"product", "question"}


def test_refused_writes_carry_findings_and_write_nothing(env: Env) -> None:
    head = env.head()
    with env.client() as c:
        with pytest.raises(InvalidPrompt) as info:
            c.prompts.create(
                "typo",
                "1.0.0",
                template="Hello {{ nmae }}!",
                inputs={"name": {"type": "string"}},
            )
        err = info.value
        assert err.status == 422 and err.code == "invalid_prompt"
        rules = {f.rule for f in err.findings}
        assert "undeclared-variable" in rules
        bad = next(f for f in err.findings if f.rule == "undeclared-variable")
        assert bad.path == "prompts/typo.yaml" and bad.line is not None
        assert "nmae" in bad.message
        with pytest.raises(NotFound):
            c.prompts.get("typo")

        c.prompts.create("stay", "1.0.0", template="A")
        with pytest.raises(InvalidPrompt) as same:
            c.prompts.update("stay", template="B")  # no version bump
        assert "version-not-bumped" in {f.rule for f in same.value.findings}
        with pytest.raises(InvalidPrompt) as missing:
            c.prompts.create("incl", "1.0.0", template='{% include "no/such" %}')
        assert "missing-include" in {f.rule for f in missing.value.findings}
        assert c.prompts.get("stay").template == "A"
    assert env.head() != head  # only "stay" was written


def test_conflicts(env: Env) -> None:
    with env.client() as a, env.client(cache_ttl=0, stale_ttl=0) as b:
        a.prompts.create("race", "1.0.0", template="one")
        with pytest.raises(Conflict) as exists:
            a.prompts.create("race", "1.0.0", template="one")
        assert exists.value.status == 409 and exists.value.code == "already_exists"

        seen = a.prompts.get("race")
        b.prompts.update("race", version="1.1.0", template="two")
        with pytest.raises(PreconditionFailed) as stale:
            a.prompts.update(
                "race", version="1.2.0", template="three", if_match=seen.etag
            )
        assert stale.value.status == 412
        assert stale.value.current_version == "1.1.0"
        assert isinstance(stale.value, Conflict)
        with pytest.raises(PreconditionFailed):
            a.prompts.delete("race", if_match="1.0.0")
        # the 412 dropped a's stale cache entry too
        assert a.prompts.get("race").version == "1.1.0"
        ok = a.prompts.update(
            "race", version="1.2.0", template="three", if_match="1.1.0"
        )
        assert ok.version == "1.2.0"
        a.prompts.delete("race", if_match=ok.commit)


def test_read_key_gets_the_permission_error(env: Env) -> None:
    head = env.head()
    with env.client(env.read_key) as c:
        assert c.prompts.get("summarize").version
        with pytest.raises(PermissionDenied) as info:
            c.prompts.create("nope", "1.0.0", template="x")
        assert info.value.status == 403
        with pytest.raises(PermissionDenied):
            c.prompts.update("summarize", version="99.0.0")
        with pytest.raises(PermissionDenied):
            c.prompts.delete("summarize")
        with pytest.raises(PermissionDenied):
            c.parts.create("x", "y", "z")
        with pytest.raises(PermissionDenied):
            c.parts.delete("system", "tone")
        assert c.parts.list().names()  # reading parts is fine
    assert env.head() == head


def test_parts_crud(env: Env) -> None:
    with env.client() as c:
        made = c.parts.create("sdk", "sig", "Signed, the SDK.", ext="txt")
        assert made.part == "sdk/sig" and made.path == "parts/sdk/sig.txt"
        assert "sdk/sig" in c.parts.list().names()
        part = c.parts.get("sdk", "sig")
        assert (part.source, part.path, part.category) == (
            "Signed, the SDK.",
            "parts/sdk/sig.txt",
            "sdk",
        )
        assert part.etag and part.commit == made.commit
        assert c.parts.get("sdk", "sig.txt").source == part.source
        with pytest.raises(Conflict):
            c.parts.create("sdk", "sig", "again")

        c.prompts.create(
            "signed",
            "1.0.0",
            template='Body {{ x }}\n{% include "sdk/sig" %}',
            inputs={"x": {"type": "string"}},
        )
        assert c.prompts.render("signed", {"x": "1"}).rendered == (
            "Body 1\nSigned, the SDK."
        )
        changed = c.parts.update("sdk", "sig", "Yours, the SDK.", if_match=part.etag)
        assert changed.changed and changed.path == "parts/sdk/sig.txt"
        with pytest.raises(PreconditionFailed):
            c.parts.update("sdk", "sig", "Stale.", if_match=part.etag)
        assert c.prompts.render("signed", {"x": "2"}).rendered == (
            "Body 2\nYours, the SDK."
        )
        with pytest.raises(InvalidPrompt) as used:
            c.parts.delete("sdk", "sig")  # still included by "signed"
        assert "missing-include" in {f.rule for f in used.value.findings}
        c.prompts.delete("signed")
        gone = c.parts.delete("sdk", "sig", message="no longer used")
        assert gone.deleted and gone.part == "sdk/sig"
        with pytest.raises(NotFound):
            c.parts.get("sdk", "sig")
        assert c.parts.get("sdk", "sig", commit=made.commit).source == (
            "Signed, the SDK."
        )


def test_writes_on_a_branch(env: Env) -> None:
    with env.client() as c:
        c.prompts.create("branchy", "1.0.0", template="main copy")
        # a branch that does not exist yet starts from the default branch
        result = c.prompts.update(
            "branchy", version="1.1.0", template="feature copy", branch="feature-x"
        )
        assert result.branch == "feature-x"
        assert c.prompts.get("branchy", ref="feature-x").template == "feature copy"
        assert c.prompts.get("branchy").template == "main copy"
        c.prompts.create("only-there", "1.0.0", template="x", branch="feature-x")
        assert "only-there" in c.prompts.list(ref="feature-x").ids()
        assert "only-there" not in c.prompts.list().ids()
        c.prompts.delete("only-there", branch="feature-x")
        assert "only-there" not in c.prompts.list(ref="feature-x").ids()


def test_async_writes(env: Env) -> None:
    async def scenario() -> None:
        async with (
            AsyncDakora(env.server.base_url, env.write_key, PROJECT, **LONG) as c,
            AsyncDakora(env.server.base_url, env.read_key, PROJECT) as reader,
        ):
            made = await c.prompts.create(
                "async-greet",
                "1.0.0",
                template="Hey {{ who }}",
                inputs={"who": {"type": "string"}},
            )
            assert (await c.prompts.get("async-greet")).version == "1.0.0"
            await c.prompts.update(
                "async-greet", version="1.0.1", template="Yo {{ who }}"
            )
            got = await c.prompts.get("async-greet")
            assert (got.version, got.source) == ("1.0.1", "network")
            rendered = await c.prompts.render("async-greet", {"who": "Al"})
            assert rendered.rendered == "Yo Al"
            with pytest.raises(InvalidPrompt) as info:
                await c.prompts.update(
                    "async-greet", version="1.0.2", template="{{ y }}"
                )
            assert info.value.findings[0].rule == "undeclared-variable"
            with pytest.raises(PreconditionFailed):
                await c.prompts.delete("async-greet", if_match=made.commit)
            with pytest.raises(PermissionDenied):
                await reader.prompts.create("async-no", "1.0.0", template="x")
            with pytest.raises(PermissionDenied):
                await reader.parts.create("a", "b", "c")

            await c.parts.create("async", "note", "A note.")
            assert "async/note" in (await c.parts.list()).names()
            part = await c.parts.get("async", "note")
            assert part.source == "A note." and part.path == "parts/async/note.md"
            await c.parts.update("async", "note", "B note.", if_match=part.etag)
            assert (await reader.parts.get("async", "note")).source == "B note."
            await c.parts.delete("async", "note")
            await c.prompts.delete("async-greet")
            with pytest.raises(NotFound):
                await c.prompts.get("async-greet")

    asyncio.run(scenario())


def test_the_docs_round_trip_runs(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/sdk.md's create → update → render example, run as written (server, key,
    project and id swapped for this test's)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text()
    section = doc.split("A create → update → render round trip:", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    swapped = (
        code.replace('"http://127.0.0.1:54321"', repr(env.server.base_url))
        .replace('"dk_…write key…"', repr(env.write_key))
        .replace('"demo/demo"', repr(PROJECT))
        .replace('"greet"', '"docs-greet"')
    )
    assert swapped.count(env.write_key) == 1 and '"docs-greet"' in swapped
    exec(compile(swapped, "docs/sdk.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "prompts/docs-greet.yaml" in printed
    assert "[undeclared-variable]" in printed
    with env.client(env.read_key) as c:
        assert c.prompts.get("docs-greet").version == "1.1.0"


def test_without_a_project_the_key_s_project_is_used(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DAKORA_URL", "DAKORA_API_KEY", "DAKORA_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    me = env.server.client(env.write_key).get("/api/me").json()
    assert me["default_project"]["ref"] == "sdkw~demo"
    assert me["default_project"]["workspace_kind"] == "team"
    with Dakora(env.server.base_url, env.write_key) as c:
        assert c.project is None
        made = c.prompts.create("keyed", "1.0.0", template="Keyed")
        assert c.project == PROJECT
    with env.client(env.read_key) as reader:
        assert reader.prompts.get("keyed").commit == made.commit

    async def scenario() -> None:
        async with AsyncDakora(env.server.base_url, env.read_key) as a:
            assert (await a.prompts.get("keyed")).version == "1.0.0"
            assert a.project == PROJECT

    asyncio.run(scenario())
