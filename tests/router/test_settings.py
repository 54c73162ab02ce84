"""Settings come from flags, environment and a TOML file, in that order of precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.errors import InvalidArgument
from router.settings import DEFAULT_PORT, load_settings


def test_defaults_and_sqlite_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.port == DEFAULT_PORT
    assert settings.redis_url is None
    assert settings.history_url == f"sqlite:///{tmp_path / 'history.sqlite3'}"


def test_precedence_flag_over_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "router.toml"
    config.write_text('port = 6000\nmetrics_port = 7000\nredis_url = "redis://file:1/0"\n')
    monkeypatch.setenv("TICKET_ROUTER_METRICS_PORT", "7100")
    monkeypatch.setenv("REDIS_URL", "redis://env:2/0")
    settings = load_settings(config, port=6100)
    assert (settings.port, settings.metrics_port) == (6100, 7100)
    assert settings.redis_url == "redis://env:2/0"


def test_invalid_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="port"):
        load_settings(port=70000)
    with pytest.raises(InvalidArgument, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
