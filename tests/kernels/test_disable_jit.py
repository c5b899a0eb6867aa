"""The kernels run as plain Python too (NUMBA_DISABLE_JIT=1) and give the same shocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from engine.news import news_from_mapping
from engine.scoring import Scorer
from tests.conftest import MINI, ROOT

HEADLINES = [
    ("Meta reportedly plans to sell its spare AI computing power", "2026-11-25"),
    ("Splunk to be acquired by Cisco", "2023-09-21"),
    ("China bans iPhone use; Apple not affected, but $QCOM falls", "2023-09-06"),
]

SCRIPT = f"""
import json, sys
from pathlib import Path
from engine.news import news_from_mapping
from engine.scoring import Scorer
s = Scorer.load(Path({str(MINI)!r}))
out = []
for h, when in {HEADLINES!r}:
    shock = s.score(news_from_mapping({{"headline": h, "created_at": when}}), novelty=False)
    out.append({{leg.symbol: leg.score for leg in shock.legs}})
print(json.dumps(out))
"""


def test_pure_python_kernels_agree_with_compiled(mini_scorer: Scorer) -> None:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    pure = json.loads(res.stdout.strip().splitlines()[-1])
    compiled = []
    for h, when in HEADLINES:
        shock = mini_scorer.score(
            news_from_mapping({"headline": h, "created_at": when}), novelty=False
        )
        compiled.append({leg.symbol: leg.score for leg in shock.legs})
    assert pure == compiled
    assert any(pure)
