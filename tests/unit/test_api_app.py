"""Small pure pieces of the API: settings guard, ETag matching, selectors, events."""

from __future__ import annotations

from pathlib import Path

import pytest

from dakora.api.app import check_settings, create_app
from dakora.registry.content import DEFAULT_SELECTOR, Selector, etag_matches
from dakora.registry.core.errors import BadRequest, ConfigError
from dakora.registry.core.settings import Settings
from dakora.registry.db.events import format_event, parse_event


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_auth_none_is_refused_off_loopback(tmp_path: Path, host: str) -> None:
    settings = Settings(data_dir=tmp_path, auth_mode="none", host=host)
    with pytest.raises(ConfigError, match="DAKORA_AUTH_MODE=none"):
        check_settings(settings)
    with pytest.raises(ConfigError):
        create_app(settings)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_auth_none_is_allowed_on_loopback(tmp_path: Path, host: str) -> None:
    settings = Settings(data_dir=tmp_path, auth_mode="none", host=host)
    check_settings(settings)
    assert create_app(settings).title == "Dakora"


def test_other_modes_bind_anywhere(tmp_path: Path) -> None:
    check_settings(Settings(data_dir=tmp_path, auth_mode="keys", host="0.0.0.0"))


def test_clerk_mode_needs_an_issuer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DAKORA_CLERK_ISSUER"):
        create_app(Settings(data_dir=tmp_path, auth_mode="clerk"))
    check_settings(
        Settings(data_dir=tmp_path, auth_mode="clerk", clerk_issuer="https://x.invalid")
    )


def test_create_app_opens_nothing(tmp_path: Path) -> None:
    create_app(Settings(data_dir=tmp_path / "never"))
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x" , W/"abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
    ],
)
def test_etag_matching(header: str | None, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches


def test_selectors() -> None:
    assert Selector.of() == DEFAULT_SELECTOR
    assert Selector.from_query({}) is DEFAULT_SELECTOR
    assert Selector.of(ref="main").cache_key == ("ref", "main")
    assert Selector.of(version="1.0.0").cache_key == ("version", "1.0.0")
    assert Selector.of(commit="ABCDEF12").commit == "abcdef12"
    with pytest.raises(BadRequest, match="at most one"):
        Selector.of(ref="main", commit="abcd")
    with pytest.raises(BadRequest, match="not a hexadecimal"):
        Selector.of(commit="main")
    assert Selector.from_query({"ref": "v1"}).ref == "v1"


def test_event_payloads_round_trip() -> None:
    assert parse_event(format_event("key", "k1")) == ("key", "k1")
    assert parse_event(format_event("project", "p")) == ("project", "p")
    assert parse_event("all:") == ("all", "")
    assert parse_event("garbage") == ("all", "")
    assert parse_event("other:x") == ("all", "")
