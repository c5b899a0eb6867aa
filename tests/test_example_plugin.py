"""The example third-party plugin installs from its own pyproject.toml, is listed, and backtests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.backtests.test_runner import market, news
from tests.plugin_helpers import ROOT, pip_install_target, spillover_with

EXAMPLE = ROOT / "examples" / "peer_echo"


def test_the_example_plugin_installs_lists_and_backtests(tmp_path: Path) -> None:
    source = tmp_path / "peer_echo"  # a copy: pip's build files stay out of the repository
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = tmp_path / "site"
    pip_install_target(source, site)
    listed = spillover_with(site, "strategies", "list", "--json")
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert rows["peer_echo"]["distribution"] == "spillover-peer-echo"
    assert rows["peer_echo"]["settings"]["max_legs"] == 3 and rows["peer_echo"]["error"] == ""
    news().write_parquet(tmp_path / "news.parquet")
    market().write_parquet(tmp_path / "trades.parquet")
    res = spillover_with(
        site, "backtest", "--news", str(tmp_path / "news.parquet"), "--market",
        str(tmp_path / "trades.parquet"), "--out", str(tmp_path / "bt"), "--strategy", "peer_echo",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    trades = pl.read_parquet(tmp_path / "bt" / "trades.parquet")
    assert trades.height and "META" not in set(trades["symbol"])  # the spillover, not the subject
    assert trades["qty"].sum() == 0  # every leg closed by its holding time
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(source / "tests")],
        cwd=source, capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-3000:]
