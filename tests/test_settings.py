"""Settings come from defaults < TOML file < environment < arguments, and typos are errors."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.settings import load_settings


def test_toml_file_then_environment_override_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "my.toml"
    toml.write_text("[scoring]\nthreshold = 0.3\nmax_chars = 500\n")
    assert load_settings(toml).scoring.threshold == 0.3
    monkeypatch.setenv("SPILLOVER_SCORING__THRESHOLD", "0.4")
    settings = load_settings(toml)
    assert settings.scoring.threshold == 0.4
    assert settings.scoring.max_chars == 500


def test_a_typo_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    toml = tmp_path / "typo.toml"
    toml.write_text("[scoring]\nthreshhold = 0.3\n")
    with pytest.raises(ValidationError, match="threshhold"):
        load_settings(toml)


def test_shipped_defaults_load() -> None:
    assert load_settings().scoring.threshold == 0.15
