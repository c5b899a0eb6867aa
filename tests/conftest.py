from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from engine.scoring import Scorer

# JIT compilation makes first calls slow; CI machines are noisy: no per-example deadline.
settings.register_profile("spillover", deadline=None)
settings.load_profile("spillover")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MINI = Path(__file__).resolve().parent / "fixtures" / "mini"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test where that folder is not beside the clone."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: ../shared is not beside this clone")
    return path


@pytest.fixture(scope="session")
def mini_scorer() -> Scorer:
    """A scorer over the tiny fixture universe in tests/fixtures/mini."""
    return Scorer.load(MINI)


@pytest.fixture(scope="session")
def scorer() -> Scorer:
    """A scorer over the shipped configs/."""
    return Scorer.load(ROOT / "configs")
