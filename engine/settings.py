"""Settings: defaults < `configs/default.toml` (or --config FILE) < environment < arguments.

Every key can come from the environment as `SPILLOVER_<SECTION>__<KEY>`, e.g.
`SPILLOVER_SCORING__THRESHOLD=0.2`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.paths import config_dir


class ScoringSettings(BaseModel):
    """How headlines are scored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(
        0.15, gt=0, le=1, description="|score| at which strategies trade a leg"
    )
    max_chars: int = Field(
        2000, ge=16, description="headlines longer than this are cut (and say so)"
    )
    max_shocks: int = Field(32, ge=1, le=512, description="most legs kept per headline")
    min_abs: float = Field(0.02, ge=0, lt=1, description="legs below this |score| are dropped")
    novelty_window_hours: float = Field(
        24.0, ge=0, description="how far back near-duplicates count"
    )
    duplicate_distance: int = Field(
        3, ge=0, le=64, description="SimHash bits apart that count as a repeat"
    )
    duplicate_factor: float = Field(0.25, ge=0, le=1, description="score multiplier for a repeat")
    novelty_ring: int = Field(4096, ge=16, description="recent headlines remembered for novelty")
    industry_peer_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="weight of the implicit peer link between same-industry companies",
    )


class Settings(BaseSettings):
    """All engine settings."""

    model_config = SettingsConfigDict(
        env_prefix="SPILLOVER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )
    toml_path: ClassVar[Path | None] = None

    scoring: ScoringSettings = ScoringSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = cls.toml_path or config_dir() / "default.toml"
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path))


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `path` (default `configs/default.toml`), the environment and overrides."""
    Settings.toml_path = path
    try:
        return Settings(**overrides)
    finally:
        Settings.toml_path = None
