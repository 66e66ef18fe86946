"""``dakora link`` without a server (--no-check), and SDK → registry error translation."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from dakora.cli import commands  # noqa: F401  (registers the commands)
from dakora.cli.link import (
    _check_project,
    _decode_cli_values,
    _project_from_me,
    open_remote,
)
from dakora.cli.main import app
from dakora.cli.output import as_dakora_error as _translate
from dakora.client import _errors as sdk
from dakora.client.config import link_path, load_link
from dakora.registry.core import errors as reg


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name in ("DAKORA_URL", "DAKORA_API_KEY", "DAKORA_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    link_path().unlink(missing_ok=True)
    yield CliRunner()
    link_path().unlink(missing_ok=True)


def test_link_save_show_remove(runner: CliRunner) -> None:
    key = "dk_" + "a" * 40
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    r = runner.invoke(app, ["link", closed, "--api-key", key, "--project", "ws/p"])
    assert r.exit_code == 1 and "cannot reach" in r.output  # --check is the default
    assert not link_path().exists()

    r = runner.invoke(
        app,
        ["link", "http://srv.test:54321/", "--api-key", key, "--project", "ws/p"]
        + ["--no-check", "--json"],
    )
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["url"] == "http://srv.test:54321" and shown["project"] == "ws/p"
    assert key not in r.stdout
    assert stat.S_IMODE(os.stat(link_path()).st_mode) == 0o600
    saved = load_link()
    assert saved is not None and saved.api_key == key

    r = runner.invoke(app, ["link"])
    assert r.exit_code == 0 and "ws/p" in r.stdout and key not in r.stdout

    r = runner.invoke(app, ["link", "--remove"])
    assert r.exit_code == 0 and not link_path().exists()
    r = runner.invoke(app, ["link"])
    assert r.exit_code == 1 and "no saved link" in r.output


def test_link_key_from_stdin(runner: CliRunner) -> None:
    r = runner.invoke(
        app, ["link", "http://srv.test", "--api-key", "-", "--no-check"], input="dk_s\n"
    )
    assert r.exit_code == 0, r.output
    saved = load_link()
    assert saved is not None and saved.api_key == "dk_s"


def test_link_refuses_non_http_url(runner: CliRunner) -> None:
    r = runner.invoke(app, ["link", "ftp://srv.test", "--no-check"])
    assert r.exit_code == 2 and "http://" in r.output


def test_open_remote_names_what_is_missing(runner: CliRunner) -> None:
    with pytest.raises(reg.BadRequest, match="--remote URL"):
        open_remote()

    # no project: the server's default_project is asked for; with none, a clear error
    def no_default(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/me"
        return httpx.Response(200, json={"kind": "local", "default_project": None})

    client = open_remote("http://srv.test", transport=httpx.MockTransport(no_default))
    with client, pytest.raises(sdk.DakoraClientError) as info:
        client.prompts.get("greet")
    translated = _translate(info.value)
    assert isinstance(translated, reg.BadRequest)
    assert "no default project" in translated.message
    assert "--project" in translated.message


def _api_error(status: int, body: dict[str, object]) -> sdk.DakoraAPIError:
    return sdk.error_from_response(httpx.Response(status, json={"error": body}))


def test_sdk_errors_become_registry_errors() -> None:
    err = _translate(
        _api_error(
            422,
            {
                "code": "invalid_inputs",
                "message": "m",
                "problems": [{"input": "n", "message": "n: not a number"}],
            },
        )
    )
    assert isinstance(err, reg.InputError) and err.exit_code == 2
    assert err.problems[0].name == "n"
    nf = _translate(_api_error(404, {"code": "prompt_not_found", "message": "gone"}))
    assert isinstance(nf, reg.PromptNotFound) and nf.message == "gone"
    assert isinstance(
        _translate(_api_error(401, {"code": "unauthenticated", "message": "x"})),
        reg.Unauthenticated,
    )
    assert isinstance(
        _translate(_api_error(403, {"code": "forbidden", "message": "x"})),
        reg.AccessDenied,
    )
    assert isinstance(
        _translate(_api_error(400, {"code": "render_error", "message": "x"})),
        reg.RenderError,
    )
    assert isinstance(
        _translate(_api_error(429, {"code": "quota_exceeded", "message": "x"})),
        reg.QuotaExceeded,
    )
    assert isinstance(
        _translate(sdk.DakoraConnectionError("cannot reach")), reg.StorageError
    )


def test_cli_json_values_decoded_for_structured_inputs() -> None:
    specs = {"tags": {"type": "array<string>"}, "acct": {"type": "object"}, "n": {}}
    out = _decode_cli_values(
        specs, {"tags": '["a", "b"]', "acct": '{"x": 1}', "n": "[1]", "other": "{"}
    )
    assert out == {"tags": ["a", "b"], "acct": {"x": 1}, "n": "[1]", "other": "{"}


ME = {
    "kind": "key",
    "projects": [
        {"id": "3f0c-uuid", "workspace": "demo", "slug": "demo", "ref": "demo~demo"}
    ],
}


@pytest.mark.parametrize("project", ["demo/demo", "demo~demo", "3f0c-uuid", None])
def test_link_accepts_a_project_the_key_can_read(project: str | None) -> None:
    _check_project(ME, project)


def test_link_refuses_a_project_the_key_cannot_read() -> None:
    """A typo in --project was saved and failed only at the next remote command."""
    with pytest.raises(reg.NotFound, match="demo/nope.*demo/demo"):
        _check_project(ME, "demo/nope")
    _check_project(None, "demo/nope")  # --no-check or no key: nothing to compare


def test_link_learns_the_default_project() -> None:
    user = {
        "kind": "user",
        "projects": [{"workspace": "acme", "slug": "web"}],
        "default_project": {"workspace": "ada", "slug": "default", "id": "u"},
    }
    assert _project_from_me(user) == "ada/default"
    assert _project_from_me({**user, "default_project": None}) is None
    # a server from before default_project: the key's one project
    key = {"kind": "key", "projects": [{"workspace": "acme", "slug": "web"}]}
    assert _project_from_me(key) == "acme/web"
    assert _project_from_me(None) is None
