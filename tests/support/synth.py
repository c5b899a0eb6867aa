"""A small synthetic market for a test module's fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backtests.synth import generate


def synth_files(factory: pytest.TempPathFactory, seed: int, **sizes: Any) -> tuple[Path, Path]:
    """`spillover data synth` into a fresh temporary folder: (news, trades) paths. `sizes`:
    `generate`'s days, symbols, headlines_per_day, trades_per_symbol_per_day."""
    made = generate(factory.mktemp("synth"), seed=seed, **sizes)
    return made.news_path, made.trades_path
