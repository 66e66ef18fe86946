"""The Studio end to end: the built single-page app served by a real ``dakora serve``
(Clerk mode, so API keys and a Clerk owner's session token both sign in), driven in a
real Chromium (Debian's, through Playwright with ``executable_path``) over the sample
repository with a history pushed with git.

One server, one browser and one signed-in tab for the module; the tests run in order
and build on each other (sign in → browse → … → edit and commit → activity). Every page
gets an axe-core scan (no serious or critical violation) and a screenshot in
``.test-output/studio/`` (the prompt page and the playground also in docs/images/ for
the README). Console errors fail the test that caused them.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.fixtures.chromium import LAUNCH_ARGS, find_chromium
from tests.fixtures.server import LiveServer, ServerFactory
from tests.integration.api_support import JwksEndpoint, import_project, new_key

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REPO = ROOT / "sample-repo"
STUDIO = ROOT / "studio"
AXE = STUDIO / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = Path(os.environ.get("DAKORA_TEST_OUTPUT", ROOT / ".test-output")) / "studio"
DOC_IMAGES = ROOT / "docs" / "images"
ISSUER = "https://clerk.studio-test.invalid"
OWNER_SUB = "user_studio_owner"

PROJECT = "acme~prompts"
TIMEOUT_MS = 15_000
FIRST_LOAD_BUDGET = 300 * 1024  # bytes of JavaScript, gzipped


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a dev dependency: installed by `make install`
        pytest.fail(f"playwright is not installed ({exc}); run `make install`")
    return sync_playwright


def _run(cwd: Path, *cmd: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout.strip()


def _build_studio() -> None:
    """The same idempotent steps as `make test`: npm ci when stale, vite build."""
    _run(ROOT, "make", "-s", "studio-build")
    assert (STUDIO / "dist" / "index.html").is_file()
    assert AXE.is_file(), "axe-core is missing from studio/node_modules"


# -- the world: server, history, keys, browser ------------------------------------------


@dataclass
class World:
    server: LiveServer
    jwks: JwksEndpoint
    write_key: str
    read_key: str
    reader_id: str
    owner_token: str
    clone_url: str
    work: Path
    browser: Any
    page: Any
    console: list[str] = field(default_factory=list)
    commit: str = ""  # the commit the edit test made

    def studio(self, path: str = "") -> str:
        return self.server.url("/studio" + path)

    def api(self) -> httpx.Client:
        return self.server.client(self.write_key)


def _push_history(server: LiveServer, key: str, work: Path) -> str:
    """main: support-reply 1.2.0 → 1.3.0; tag v1 and protected branch production at
    the import; branch proposal: translate gets a new required input with only a
    minor bump (a breaking change). Returns the clone URL."""
    url = server.url("/git/acme/prompts.git").replace("http://", f"http://git:{key}@")
    _run(work.parent, "git", "clone", "-q", url, work.name)
    _run(work, "git", "tag", "v1")
    _run(work, "git", "branch", "production")
    reply = work / "prompts" / "support" / "reply.yaml"
    text = reply.read_text()
    text = text.replace('version: "1.2.0"', 'version: "1.3.0"')
    text = text.replace("short paragraphs.", "short, friendly paragraphs.")
    reply.write_text(text)
    _run(work, "git", "commit", "-q", "-am", "support-reply: friendlier")
    _run(work, "git", "push", "-q", "origin", "main", "v1", "production")
    _run(work, "git", "checkout", "-q", "-b", "proposal")
    translate = work / "prompts" / "general" / "translate.yaml"
    text = translate.read_text()
    text = text.replace('version: "1.3.0"', 'version: "1.4.0"')
    text = text.replace(
        "You are a professional translator.",
        "You are a professional translator for the {{ region }} market.",
    )
    text = text.replace(
        "inputs:\n", "inputs:\n  region: {type: string, required: true}\n", 1
    )
    text = text.replace(
        "    target_language: French\n", "    target_language: French\n    region: EU\n"
    )
    text = text.replace(
        "    target_language: German\n",
        "    target_language: German\n    region: DACH\n",
    )
    translate.write_text(text)
    _run(work, "git", "commit", "-q", "-am", "translate: by region")
    _run(work, "git", "push", "-q", "origin", "proposal")
    _run(work, "git", "checkout", "-q", "main")
    return url


@pytest.fixture(scope="module")
def world(
    start_live_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    _build_studio()
    chromium = find_chromium()
    jwks = JwksEndpoint(issuer=ISSUER)
    server = start_live_server(
        env={
            "DAKORA_AUTH_MODE": "clerk",
            "DAKORA_CLERK_ISSUER": ISSUER,
            "DAKORA_CLERK_JWKS_URL": jwks.url,
        }
    )
    # in process against the server's database (as `dakora admin` would; faster)
    from dakora.registry import tenancy
    from dakora.registry.db import users

    engine = server.engine()
    project_id = import_project(server, "acme", "prompts", SAMPLE_REPO)
    write_key, _ = new_key(server, project_id, "write", name="studio-e2e")
    read_key, reader_id = new_key(server, project_id, "read", name="reader")
    owner = tenancy.get_or_create_user(engine, email="owner@example.com")
    tenancy.set_member(
        engine, tenancy.get_workspace(engine, "acme").id, owner.id, "owner"
    )
    with engine.begin() as conn:
        conn.execute(
            update(users).where(users.c.id == owner.id).values(external_id=OWNER_SUB)
        )
    base = tmp_path_factory.mktemp("studio")
    work = base / "clone"
    clone_url = _push_history(server, write_key, work)
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)

    with _playwright()() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=LAUNCH_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        w = World(
            server=server,
            jwks=jwks,
            write_key=write_key,
            read_key=read_key,
            reader_id=reader_id,
            owner_token=jwks.token(OWNER_SUB, email="owner@example.com"),
            clone_url=clone_url,
            work=work,
            browser=browser,
            page=page,
        )
        _watch_console(page, w.console)
        try:
            yield w
        finally:
            browser.close()
            jwks.close()


def _watch_console(page: Any, sink: list[str]) -> None:
    page.on(
        "console",
        lambda m: (
            sink.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: sink.append(f"pageerror: {e}"))


@pytest.fixture
def w(world: World) -> Iterator[World]:
    world.console.clear()
    yield world
    assert world.console == [], "console errors:\n" + "\n".join(world.console)


# -- helpers ----------------------------------------------------------------------------


def scan(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    assert result == [], f"axe on {name}: {result}"


def shot(page: Any, name: str, *, doc: str | None = None) -> Path:
    page.wait_for_timeout(150)  # let CodeMirror lay out
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if doc is not None:
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / doc)
    return path


def sign_in(page: Any, url: str, secret: str) -> None:
    page.goto(url)
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("whoami").wait_for()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def expect_text(locator: Any, text: str | re.Pattern[str]) -> None:
    expect(locator).to_contain_text(text, timeout=TIMEOUT_MS)


def set_editor_text(page: Any, text: str) -> None:
    content = page.get_by_test_id("yaml-editor").locator(".cm-content")
    content.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


# -- the tests, in order ------------------------------------------------------------------


def test_sign_in_with_a_key(w: World) -> None:
    page = w.page
    page.goto(w.studio("/"))
    page.get_by_label("API key").wait_for()
    scan(page, "sign-in")
    shot(page, "01-sign-in")
    page.get_by_label("API key").fill("dk_not_a_real_key")
    page.get_by_role("button", name="Sign in").click()
    expect_text(page.get_by_role("alert"), "not accepted")
    w.console.clear()  # the refused key's 401 is the point of this step
    page.get_by_label("API key").fill(w.write_key)
    page.get_by_role("button", name="Sign in").click()
    expect_text(page.get_by_test_id("whoami"), "read+write")
    # the JavaScript of a first load, gzipped, within the budget; the editor is lazy
    loaded = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.endsWith('.js'))"
    )
    sizes = {
        name: len(gzip.compress((STUDIO / "dist" / name).read_bytes(), 9))
        for name in (url.split("/studio/", 1)[1] for url in loaded)
    }
    assert sizes and sum(sizes.values()) <= FIRST_LOAD_BUDGET, sizes
    assert not any(n.startswith("assets/cm-") for n in sizes), "CodeMirror up front"
    print(f"first-load JS: {sum(sizes.values()) / 1024:.1f} KiB gzipped {sizes}")
    expect_text(page.get_by_role("main"), "acme/prompts")
    assert page.evaluate("sessionStorage.getItem('dakora.apiKey')") == w.write_key
    scan(page, "projects")
    shot(page, "02-projects")


def test_browse_prompts_at_two_refs(w: World) -> None:
    page = w.page
    page.get_by_role("main").get_by_role("link", name="acme/prompts").click()
    rows = page.get_by_test_id("prompt-row")
    expect_text(page.get_by_test_id("prompt-list"), "support-reply")
    reply = rows.filter(has_text="support-reply")
    expect_text(reply, "1.3.0")
    expect_text(page.get_by_test_id("prompt-list"), "chat")  # kind column
    scan(page, "prompts")
    shot(page, "03-prompts-main")
    page.get_by_label("Branch or tag").select_option("v1")
    expect_text(rows.filter(has_text="support-reply"), "1.2.0")
    assert "ref=v1" in page.url
    page.get_by_label("Tag", exact=True).select_option("support")
    expect_text(rows.first, "support")
    assert rows.filter(has_text="translate").count() == 0
    shot(page, "04-prompts-v1-tag-support")
    page.go_back()  # back button: the tag filter replaced, the ref pushed
    page.get_by_label("Filter by id or description").fill("translate")
    expect(rows).to_have_count(1, timeout=TIMEOUT_MS)


def test_prompt_page_and_a_diff_between_two_versions(w: World) -> None:
    page = w.page
    page.goto(w.studio(f"/p/{PROJECT}/prompts/support-reply"))
    main = page.get_by_role("main")
    expect_text(main, "Draft a reply")
    expect_text(page.get_by_role("region", name="Inputs table"), "max_paragraphs")
    expect_text(main, "gpt-4o-mini")
    expect_text(page.get_by_test_id("code-view"), "short, friendly paragraphs.")
    expect_text(page.get_by_role("list", name="Versions, newest first"), "1.2.0")
    expect_text(main, "system/tone")
    page.get_by_role("tab", name="Python SDK").click()
    expect_text(main, 'version="1.3.0"')
    page.get_by_role("tab", name="curl").click()
    scan(page, "prompt")
    shot(page, "05-prompt", doc="studio-prompt.png")
    page.emulate_media(color_scheme="dark")
    scan(page, "prompt (dark)")
    shot(page, "05-prompt-dark")
    page.emulate_media(color_scheme="light")

    page.get_by_label("From").select_option("1.2.0")
    page.get_by_label("To").select_option("1.3.0")
    page.get_by_test_id("show-diff").click()
    split = page.get_by_test_id("diff-split")
    expect_text(split, "short, friendly paragraphs.")
    expect_text(split, "short paragraphs.")
    assert split.locator(".cm-changedLine").count() > 0
    scan(page, "diff")
    shot(page, "06-diff-side-by-side")
    page.get_by_role("tab", name="Unified").click()
    unified = page.get_by_test_id("diff-unified")
    expect_text(unified, "friendly")
    assert "view=unified" in page.url
    shot(page, "07-diff-unified")
    page.go_back()  # the layout tab replaced the entry: back is the prompt page
    expect_text(page.get_by_role("main"), "Draft a reply")


def test_playground_renders_good_inputs_and_shows_field_errors(w: World) -> None:
    page = w.page
    page.goto(w.studio(f"/p/{PROJECT}/prompts/support-reply/play"))
    page.get_by_test_id("preset-2").click()
    expect_text(page.get_by_test_id("field-customer"), "customer")
    page.get_by_test_id("render-button").click()
    out = page.get_by_test_id("render-output")
    expect_text(out, "Linus")
    expect_text(out, "Offer a call with their account manager.")
    scan(page, "playground")
    shot(page, "08-playground", doc="studio-playground.png")

    # bad inputs: a required one empty, a number that is not one
    page.get_by_test_id("field-customer").locator("textarea").fill("")
    page.get_by_test_id("field-max_paragraphs").locator("input").fill("lots")
    page.get_by_test_id("render-button").click()
    expect_text(page.get_by_test_id("field-error-customer"), "customer")
    expect_text(page.get_by_test_id("field-error-max_paragraphs"), "lots")
    expect_text(page.get_by_test_id("render-problems"), "2 problems")
    assert page.get_by_test_id("render-output").count() == 0
    # the browser logs the 422 itself; nothing else may have been logged
    assert all("422" in line for line in w.console), w.console
    w.console.clear()
    scan(page, "playground (errors)")
    shot(page, "09-playground-errors")

    # a chat prompt: messages by role, with a tag list input
    page.goto(w.studio(f"/p/{PROJECT}/prompts/code-review/play"))
    page.get_by_test_id("preset-1").click()
    page.get_by_test_id("render-button").click()
    expect_text(page.get_by_test_id("render-output"), "system")
    expect_text(page.get_by_test_id("render-output"), "correctness, readability")

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the playground scrolls sideways on a phone ({width}px)"
    scan(page, "playground (phone)")
    shot(page, "10-playground-phone")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_compare_two_versions(w: World) -> None:
    page = w.page
    page.goto(w.studio(f"/p/{PROJECT}/prompts/support-reply/compare?a=1.2.0&b=1.3.0"))
    page.get_by_test_id("compare-button").click()
    expect_text(page.get_by_role("region", name="A · 1.2.0"), "short paragraphs.")
    expect_text(
        page.get_by_role("region", name="B · 1.3.0"), "short, friendly paragraphs."
    )
    diff = page.get_by_test_id("diff-split")
    expect_text(diff, "friendly")
    scan(page, "compare")
    shot(page, "11-compare")


def test_edit_a_prompt_and_commit_it(w: World) -> None:
    page = w.page
    page.goto(w.studio(f"/p/{PROJECT}/prompts/summarize"))
    page.get_by_test_id("edit-button").click()
    editor = page.get_by_test_id("yaml-editor")
    expect_text(editor, "Summarise the text below")
    source = w.api().get(f"/api/projects/{PROJECT}/prompts/summarize").json()["source"]
    changed = source.replace("or fewer.", "or fewer, plainly.")
    set_editor_text(page, changed)
    # checks as you type: content changed, version not bumped
    expect_text(page.get_by_test_id("findings"), "version-not-bumped")
    assert editor.locator(".cm-lintRange-error").count() > 0
    scan(page, "edit (findings)")
    shot(page, "12-edit-findings")
    page.get_by_test_id("bump-minor").click()
    expect_text(page.get_by_test_id("edit-version"), "2.3.0")
    expect_text(page.get_by_test_id("check-state"), "No problems")
    page.get_by_label("Commit message").fill("summarize: plainly")
    page.get_by_test_id("commit-button").click()
    done = page.get_by_test_id("commit-done")
    expect_text(done, "Committed")
    expect_text(done, "2.3.0")
    shot(page, "13-edit-committed")

    body = w.api().get(f"/api/projects/{PROJECT}/prompts/summarize").json()
    assert body["version"] == "2.3.0"
    assert "or fewer, plainly." in body["template"]
    fresh = w.work.parent / "fresh-clone"
    _run(w.work.parent, "git", "clone", "-q", w.clone_url, fresh.name)
    text = (fresh / "prompts" / "general" / "summarize.yaml").read_text()
    assert 'version: "2.3.0"' in text and "or fewer, plainly." in text
    log = _run(fresh, "git", "log", "-1", "--format=%s")
    assert log == "summarize: plainly"
    w.commit = body["commit"]


def test_new_prompt_from_a_starter(w: World) -> None:
    page = w.page
    page.get_by_test_id("nav-new-prompt").click()
    page.get_by_role("button", name="Start from: Chat prompt").click()
    expect_text(page.get_by_test_id("yaml-editor"), "my-chat-prompt")
    expect_text(page.get_by_test_id("check-state"), "No problems")
    scan(page, "new prompt")
    shot(page, "14-new-prompt")


def test_activity_shows_the_commit(w: World) -> None:
    page = w.page
    commit = w.commit
    assert commit, "runs after test_edit_a_prompt_and_commit_it"
    page.goto(w.studio(f"/p/{PROJECT}/activity?ref=main"))
    first = page.get_by_test_id("push-row").first
    expect_text(first, commit[:12])
    expect_text(first, "accepted")
    expect_text(first, "studio-e2e")
    page.get_by_label("Only this ref").select_option("proposal")
    expect_text(page.get_by_test_id("push-row").first, "proposal")
    scan(page, "activity")
    shot(page, "15-activity")


def test_review_of_a_pushed_branch_shows_the_breaking_change(w: World) -> None:
    page = w.page
    page.goto(w.studio(f"/p/{PROJECT}/review?base=main&head=proposal"))
    verdict = page.get_by_test_id("review-verdict")
    expect_text(verdict, "Blocking")
    expect_text(verdict, "breaking")
    card = page.get_by_test_id("review-prompt-translate")
    expect_text(card, "region")
    expect_text(card, "breaking")
    scan(page, "review")
    shot(page, "16-review")


def test_logs_page(w: World) -> None:
    page = w.page
    r = w.api().post(
        f"/api/projects/{PROJECT}/logs",
        json={
            "prompt_id": "summarize",
            "version": "2.3.0",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "tokens_in": 412,
            "tokens_out": 96,
            "cost": 0.0003,
            "latency_ms": 840,
        },
    )
    assert r.status_code == 201, r.text
    page.goto(w.studio(f"/p/{PROJECT}/logs?prompt_id=summarize"))
    table = page.get_by_role("region", name="Execution logs")
    expect_text(table, "412 / 96")
    expect_text(table, "840 ms")
    scan(page, "logs")
    shot(page, "17-logs")


def test_jump_to_a_prompt_with_ctrl_k(w: World) -> None:
    page = w.page
    page.goto(w.studio(f"/p/{PROJECT}"))
    page.get_by_test_id("prompt-list").wait_for()
    page.keyboard.press("Control+k")
    box = page.get_by_role("combobox", name="Prompt id or description")
    box.fill("escal")
    # Enter picks the highlighted match: wait until the list has loaded and filtered
    page.locator(
        '[role="option"][aria-selected="true"]', has_text="escalation-summary"
    ).wait_for()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/prompts/escalation-summary$"))
    expect_text(page.get_by_role("main"), "escalation-summary")


def test_phone_layout(w: World) -> None:
    page = w.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(w.studio(f"/p/{PROJECT}"))
    expect_text(page.get_by_test_id("prompt-list"), "support-reply")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    scan(page, "prompts (phone)")
    shot(page, "18-prompts-phone")
    page.goto(w.studio(f"/p/{PROJECT}/prompts/support-reply"))
    expect_text(page.get_by_role("main"), "Draft a reply")
    page.get_by_test_id("code-view").locator(".cm-content").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the prompt page scrolls sideways on a phone ({width}px)"
    shot(page, "19-prompt-phone")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_read_key_sees_no_edit_controls(w: World) -> None:
    context = w.browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    _watch_console(page, w.console)
    try:
        sign_in(page, w.studio(f"/p/{PROJECT}/prompts/support-reply"), w.read_key)
        expect_text(page.get_by_test_id("whoami"), "read only")
        expect_text(page.get_by_role("main"), "Draft a reply")  # the deep link kept
        assert page.get_by_test_id("edit-button").count() == 0
        assert page.get_by_test_id("nav-new-prompt").count() == 0
        assert page.get_by_role("link", name="API keys").count() == 0
        page.goto(w.studio(f"/p/{PROJECT}/prompts/support-reply/edit"))
        expect_text(page.get_by_role("alert"), "write scope")
        # a revoked key goes back to the sign-in screen on its next request
        w.server.revoke_key("acme/prompts", w.reader_id)  # `dakora admin revoke-key`
        page.goto(w.studio(f"/p/{PROJECT}"))
        page.get_by_label("API key").wait_for()
        expect_text(page.get_by_role("status"), "Sign in again")
        w.console[:] = [c for c in w.console if "401" not in c]
    finally:
        context.close()


def test_api_keys_page_for_a_workspace_owner(w: World) -> None:
    context = w.browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    _watch_console(page, w.console)
    try:
        # a Clerk session token signs in the same way
        sign_in(page, w.studio(f"/p/{PROJECT}/keys"), w.owner_token)
        expect_text(page.get_by_test_id("whoami"), "owner@example.com")
        table = page.get_by_role("region", name="API keys")
        expect_text(table, "studio-e2e")
        page.get_by_label("Name").fill("ci")
        page.get_by_label("Scope").select_option("read")
        page.get_by_role("button", name="Create key").click()
        new_key = page.get_by_test_id("new-key").inner_text().strip()
        assert new_key.startswith("dk_")
        with w.server.client(new_key) as c:
            assert c.get(f"/api/projects/{PROJECT}/prompts").status_code == 200
        expect_text(table, "ci")
        scan(page, "api keys")
        shot(page, "20-api-keys")
        page.once("dialog", lambda d: d.accept())
        row = table.locator("tr").filter(
            has=page.get_by_role("cell", name="ci", exact=True)
        )
        row.get_by_role("button", name=re.compile("Revoke")).click()
        expect_text(row, "revoked")
        with w.server.client(new_key) as c:
            assert c.get(f"/api/projects/{PROJECT}/prompts").status_code == 401
    finally:
        context.close()


def test_no_auth_mode_opens_straight_in(
    w: World, start_live_server: ServerFactory
) -> None:
    server = start_live_server(env={"DAKORA_AUTH_MODE": "none"})
    context = w.browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    _watch_console(page, w.console)
    try:
        page.goto(server.url("/"))  # redirected to /studio/
        expect_text(page.get_by_test_id("whoami"), "local (no auth)")
        expect_text(page.get_by_role("heading", level=1), "Projects")
        assert page.get_by_label("API key").count() == 0
        assert page.get_by_role("button", name="Sign out").count() == 0
    finally:
        context.close()
        server.close()
