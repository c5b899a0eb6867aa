"""`spillover backtest --strategy a --strategy b`: one replay, a summary per strategy, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.backtests.test_runner import market, news
from tests.plugin_helpers import spillover_with


def test_several_strategies_share_one_replay_and_are_compared(tmp_path: Path) -> None:
    news().write_parquet(tmp_path / "news.parquet")
    market().write_parquet(tmp_path / "trades.parquet")
    (tmp_path / "bt.toml").write_text(
        '[strategies.slow_hedge]\nname = "shock_hedge"\nhold_seconds = 900\n\n'
        '[strategies.momentum]\nname = "news_momentum"\nhold_seconds = 600\n'
    )
    res = spillover_with(
        tmp_path, "backtest", "--news", str(tmp_path / "news.parquet"), "--market",
        str(tmp_path / "trades.parquet"), "--out", str(tmp_path / "bt"), "--config",
        str(tmp_path / "bt.toml"), "--strategy", "slow_hedge", "--strategy", "momentum",
        "--strategy", "fade",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "side by side" in res.stdout and "news_momentum" not in res.stdout
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    per = summary["strategies"]
    assert list(per) == ["slow_hedge", "momentum", "fade"]
    assert per["slow_hedge"]["n_trades"] > per["momentum"]["n_trades"] > 0  # legs vs subject
    assert sum(p["n_trades"] for p in per.values()) == summary["n_trades"]
    assert abs(sum(p["pnl"] for p in per.values()) - summary["pnl"]) < 1e-6
    trades = pl.read_parquet(tmp_path / "bt" / "trades.parquet")
    momentum = trades.filter(pl.col("strategy_id") == "momentum")
    assert set(momentum["symbol"]) == {"META"}
    assert momentum["ts"].max() - momentum["ts"].min() >= 600 * 10**9  # its own hold_seconds
    report = (tmp_path / "bt" / "report.html").read_text()
    assert "Strategies side by side" in report and "slow_hedge" in report


def test_the_same_strategy_twice_needs_two_ids(tmp_path: Path) -> None:
    news().write_parquet(tmp_path / "news.parquet")
    market().write_parquet(tmp_path / "trades.parquet")
    res = spillover_with(
        tmp_path, "backtest", "--news", str(tmp_path / "news.parquet"), "--market",
        str(tmp_path / "trades.parquet"), "--out", str(tmp_path / "bt"),
        "--strategy", "fade", "--strategy", "fade",
    )  # fmt: skip
    assert res.returncode == 2 and "strategy id fade used twice" in res.stderr
