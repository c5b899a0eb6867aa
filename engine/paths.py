"""Where the project's data lives."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """The `configs/` folder: `$SPILLOVER_CONFIG_DIR`, else the one beside the installed code."""
    env = os.environ.get("SPILLOVER_CONFIG_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "configs"
