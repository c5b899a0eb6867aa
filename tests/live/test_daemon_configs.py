"""The shipped daemon configs load, and the environment overrides them."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import load_settings
from engine.strategy import make_strategy

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", ["default.toml", "mqtt.toml", "alpaca-paper.toml"])
def test_shipped_config_loads_and_its_strategies_build(name: str) -> None:
    settings = load_settings(CONFIGS / name)
    for entry in settings.strategies:
        assert make_strategy(entry.name, entry.settings).config.strategy_id


def test_environment_overrides_a_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPILLOVER_MQTT__PORT", "1884")
    monkeypatch.setenv("SPILLOVER_HTTP__PORT", "8766")
    monkeypatch.setenv("SPILLOVER_HTTP__KILL_TOKEN", "s3cret")
    settings = load_settings(CONFIGS / "mqtt.toml")
    assert settings.mqtt.port == 1884 and settings.http.port == 8766
    assert settings.mqtt.client_id == "spillover-1"  # the rest still comes from the file
    assert settings.http.kill_token is not None
    assert "s3cret" not in repr(settings)


def test_a_typo_in_a_config_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nprot = 1884\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(bad)
