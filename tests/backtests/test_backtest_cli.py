"""`spillover data synth` then `spillover backtest`, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl


def spillover(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spillover", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_backtest_on_synthetic_market_recovers_the_planted_effect(tmp_path: Path) -> None:
    data, out = tmp_path / "synth", tmp_path / "bt"
    made = spillover("data", "synth", "--out", str(data), "--days", "4", "--symbols", "12", "--seed", "5",
                     "--trades-per-day", "1500")  # fmt: skip
    assert made.returncode == 0, made.stderr
    res = spillover("backtest", "--news", str(data / "news.parquet"), "--market", str(data / "trades.parquet"),
                    "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "total_return" in res.stdout and f"report: {out / 'report.html'}" in res.stdout
    for name in (
        "trades.parquet",
        "equity.parquet",
        "events.parquet",
        "summary.json",
        "report.html",
    ):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert {
        "total_return",
        "sharpe",
        "max_drawdown",
        "n_trades",
        "hit_rate",
        "turnover",
        "ic",
    } <= summary.keys()
    assert summary["total_return"] > 0  # net of slippage and commission
    assert summary["ic"]["subject"]["5m"] > 0 and summary["ic"]["spillover"]["5m"] > 0
    events = pl.read_parquet(out / "events.parquet")
    assert {"news_id", "symbol", "role", "score", "ret_5m", "news_pnl"} <= set(events.columns)


def test_bad_inputs_get_one_line_errors(tmp_path: Path) -> None:
    res = spillover(
        "backtest",
        "--news",
        str(tmp_path / "none.jsonl"),
        "--market",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    )
    assert res.returncode == 2 and "DataError" in res.stderr and "Traceback" not in res.stderr
    res = spillover("backtest", "--news", "x", "--market", "y")
    assert res.returncode == 2 and "give --news, --market and --out" in res.stderr
    (tmp_path / "n.jsonl").write_text('{"headline": "A", "created_at": "2024-01-02T15:00:00Z"}\n')
    (tmp_path / "t.csv").write_text("ts,symbol,price,size\n2024-01-02T15:00:00Z,AAPL,1.0,1\n")
    res = spillover("backtest", "--news", str(tmp_path / "n.jsonl"), "--market", str(tmp_path / "t.csv"),
                    "--out", str(tmp_path / "o"), "--from", "2030-01-01")  # fmt: skip
    assert res.returncode == 2 and "no headlines between 2030-01-01" in res.stderr
    res = spillover("backtest", "--news", str(tmp_path / "n.jsonl"), "--market", str(tmp_path / "t.csv"),
                    "--out", str(tmp_path / "o"), "--from", "2024-02-01", "--to", "2024-01-01")  # fmt: skip
    assert res.returncode == 2 and "--from 2024-02-01 is after --to 2024-01-01" in res.stderr
    res = spillover(
        "backtest",
        "--news",
        str(tmp_path / "n.jsonl"),
        "--market",
        str(tmp_path / "t.csv"),
        "--out",
        str(tmp_path / "t.csv" / "o"),
    )  # fmt: skip  (a file, not a folder)
    assert res.returncode == 2 and "t.csv/o: cannot write there" in res.stderr
    (tmp_path / "t2020.csv").write_text("ts,symbol,price,size\n2020-01-02T15:00:00Z,AAPL,1.0,1\n")
    res = spillover("backtest", "--news", str(tmp_path / "n.jsonl"), "--market",
                    str(tmp_path / "t2020.csv"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert res.returncode == 2 and "no headline falls within the market data's dates" in res.stderr
    assert (
        "covers 2020-01-02 15:00 to 2020-01-02 15:00 UTC, the headlines 2024-01-02 15:00"
        in res.stderr
    )
    assert "Traceback" not in res.stderr


def test_synth_mistakes_get_one_line_errors(tmp_path: Path) -> None:
    res = spillover("data", "synth", "--out", str(tmp_path / "s"), "--symbols", "100000")
    assert res.returncode == 2 and "ask for at most" in res.stderr
    res = spillover("data", "synth", "--out", str(tmp_path / "s"), "--headlines-per-day", "-5")
    assert res.returncode == 2 and "--headlines-per-day" in res.stderr
    assert "Traceback" not in res.stderr


def test_trades_without_a_usable_price_are_counted_and_reported(tmp_path: Path) -> None:
    (tmp_path / "n.jsonl").write_text('{"headline": "A", "created_at": "2024-01-02T15:00:00Z"}\n')
    (tmp_path / "t.csv").write_text(
        "ts,symbol,price,size\n2024-01-02T15:00:00Z,AAPL,1.0,1\n2024-01-02T15:01:00Z,AAPL,,1\n"
        "2024-01-02T15:02:00Z,AAPL,0,1\n2024-01-02T15:03:00Z,AAPL,1.5,1\n"
    )
    res = spillover("backtest", "--news", str(tmp_path / "n.jsonl"), "--market",
                    str(tmp_path / "t.csv"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "2 trade(s) left out of the replay" in res.stderr
    assert "hit_rate" in res.stdout and "None" not in res.stdout  # no trades: "-"
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["skipped_trades"] == 2


def test_full_backtest_on_real_stocknet_news_and_daily_bars(tmp_path: Path) -> None:
    from tests.conftest import shared_path

    news = shared_path("data", "stocknet", "news.jsonl")
    prices = shared_path("data", "stocknet", "prices")
    res = spillover(
        "backtest", "--news", str(news), "--market", str(prices), "--out", str(tmp_path)
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["headlines"] == 10830 and summary["n_trades"] > 0
    assert set(summary["ic"]["subject"]) == {"1d", "2d", "5d"}
    assert summary["ic"]["subject"]["1d"] is not None
