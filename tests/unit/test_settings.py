"""Settings: defaults, environment, derived values, the key secret, and the table of
docs/settings.md that must document every field."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from dakora.registry.core.errors import ConfigError
from dakora.registry.core.settings import Settings

SETTINGS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("DAKORA_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_defaults(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    s = Settings()
    assert s.data_dir == Path(".dakora")
    assert s.database_url == f"sqlite:///{(tmp_path / '.dakora' / 'dakora.db')}"
    assert (s.auth_mode, s.host, s.port) == ("keys", "127.0.0.1", 54321)
    assert s.mirror_backend == "local"
    assert s.azure_container == "dakora"
    assert s.quota_tiers == {"free": 1_000_000, "pro": 50_000_000, "enterprise": 0}
    assert s.default_tier == "free"
    assert s.max_keys_per_project == 10
    assert s.repos_dir == Path(".dakora") / "repos"
    assert s.is_loopback_host()
    # constructing settings touches no disk
    assert not (tmp_path / ".dakora").exists()


def test_environment_and_overrides(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DAKORA_DATA_DIR", str(tmp_path / "d"))
    clean_env.setenv("DAKORA_PORT", "8080")
    clean_env.setenv("DAKORA_AUTH_MODE", "clerk")
    clean_env.setenv("DAKORA_QUOTA_TIERS", '{"free": 5, "team": 0}')
    clean_env.setenv("DAKORA_KEY_PEPPER", "pepper")
    s = Settings()
    assert s.port == 8080 and s.auth_mode == "clerk"
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'dakora.db'}"
    assert s.quota_tiers == {"free": 5, "team": 0}
    assert s.tier_limit("team") == 0
    with pytest.raises(ConfigError):
        s.tier_limit("gold")
    assert s.pepper() == b"pepper"
    assert "key_pepper" not in s.public_summary()
    assert Settings(port=1234).port == 1234  # explicit values win over the env
    assert Settings(data_dir="~/dk").data_dir == Path.home() / "dk"
    clean_env.setenv("DAKORA_DATABASE_URL", "postgresql://u:secret@h/db")
    assert Settings().database_url == "postgresql://u:secret@h/db"
    assert "secret" not in str(Settings().public_summary())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auth_mode", "open"),
        ("mirror_backend", "s3"),
        ("port", "70000"),
        ("default_tier", "gold"),
        ("quota_tiers", '{"free": -1}'),
        ("quota_tiers", "{bad json"),  # was a pydantic-settings traceback
        ("quota_tiers", "[1, 2]"),
        ("max_keys_per_project", "0"),
    ],
)
def test_bad_values_are_refused(
    clean_env: pytest.MonkeyPatch, field: str, value: str
) -> None:
    clean_env.setenv(f"DAKORA_{field.upper()}", value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert Settings(host=host).is_loopback_host() is loopback


def test_generated_pepper_is_private_and_stable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s = Settings(data_dir=tmp_path / "data")
    first = s.pepper()
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64
    assert Settings(data_dir=tmp_path / "data").pepper() == first
    assert Settings(data_dir=tmp_path / "other").pepper() != first
    assert not list((tmp_path / "data").glob(".*tmp"))


def _documented_variables() -> set[str]:
    """The variables of the settings table (the rows of docs/settings.md)."""
    text = SETTINGS_PAGE.read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*`(DAKORA_[A-Z0-9_]+)`\s*\|", text, re.MULTILINE))


def test_every_setting_is_documented_in_the_settings_page() -> None:
    expected = {f"DAKORA_{name.upper()}" for name in Settings.model_fields}
    documented = _documented_variables()
    assert expected - documented == set(), "settings missing from docs/settings.md"
    assert documented - expected == set(), (
        "docs/settings.md documents settings that don't exist"
    )


def test_render_timeout(clean_env: pytest.MonkeyPatch) -> None:
    from dakora.registry.core.render_budget import render_timeout_from_env

    assert Settings().render_timeout_ms == 2000 == render_timeout_from_env({})
    assert Settings().render_workers == 0
    clean_env.setenv("DAKORA_RENDER_TIMEOUT_MS", "150")
    assert Settings().render_timeout_ms == 150 == render_timeout_from_env()
    for bad in ("0", "-5", "soon", "600001"):
        with pytest.raises(ConfigError, match="DAKORA_RENDER_TIMEOUT_MS"):
            render_timeout_from_env({"DAKORA_RENDER_TIMEOUT_MS": bad})
        clean_env.setenv("DAKORA_RENDER_TIMEOUT_MS", bad)
        with pytest.raises(ValidationError):
            Settings()
