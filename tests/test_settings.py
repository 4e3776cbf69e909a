"""Settings precedence: arguments > NEWSFLOW_* environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.errors import ConfigError
from newsflow.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "NEWSFLOW_DATABASE_URL",
        "NEWSFLOW_CONFIG",
        "NEWSFLOW_BATCH_SIZE",
        "NEWSFLOW_TAXONOMY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///newsflow.db"
    assert settings.batch_size == 500 and settings.taxonomy is None


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "newsflow.toml").write_text('database_url = "sqlite:///file.db"\nbatch_size = 7\n')
    assert load_settings().database_url == "sqlite:///file.db"
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", "sqlite:///env.db")
    settings = load_settings()
    assert (settings.database_url, settings.batch_size) == ("sqlite:///env.db", 7)
    assert load_settings(database_url="sqlite:///arg.db").database_url == "sqlite:///arg.db"
    assert load_settings(database_url=None).database_url == "sqlite:///env.db"


def test_named_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("batch_size = 3\n")
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(config))
    assert load_settings().batch_size == 3
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


@pytest.mark.parametrize(
    ("content", "message"),
    [("batch_size = 0\n", "batch_size"), ("colour = 1\n", "colour"), ("x = [\n", "config file")],
)
def test_bad_config_explained(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "newsflow.toml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_bad_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "many")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings()
