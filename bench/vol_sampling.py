"""How much variance trade-to-trade and 60 s returns see, against 30-minute returns.

Run: `python -m bench.vol_sampling [--data DIR]` on a `spillover data synth` folder (default:
the `bench.backtest` task, made in /tmp/spillover-bench-data by `python -m bench.replay_ab` or
`python -m bench.backtest --stage synth --data DIR`). Per symbol, the variance of a session is
summed from returns within each day (the night left out) sampled three ways: every trade, the
last trade of each 60 s, the last of each 30 minutes. Prints, by price band, the median of
sqrt(variance / the 30-minute one): the share of the volatility a position held for minutes
sees that each sampling finds. The engine estimates volatility from its 60 s samples
(`engine.kernels.market_nb.sample_returns_nb`); before 2026-11-29 it used every trade.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

NS = 1_000_000_000
PRICE_BANDS = ((0.0, 50.0), (50.0, 100.0), (100.0, 250.0), (250.0, float("inf")))


def session_variance(trades: pl.DataFrame, every_s: int) -> pl.DataFrame:
    """Per symbol: the sum of squared log returns within days, over the days (0: every trade)."""
    sampled = trades
    if every_s:
        sampled = (
            trades.with_columns(bucket=pl.col("ts") // (every_s * NS))
            .group_by("symbol", "day", "bucket")
            .agg(pl.col("price").last())
            .sort("symbol", "day", "bucket")
        )
    returns = sampled.with_columns(r=pl.col("price").log().diff().over("symbol", "day"))
    return (
        returns.drop_nulls("r")
        .group_by("symbol")
        .agg(v=(pl.col("r") ** 2).sum() / pl.col("day").n_unique())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/spillover-bench-data"))
    args = parser.parse_args()
    trades = (
        pl.read_parquet(args.data / "trades.parquet", columns=["ts", "symbol", "price"])
        .with_columns(day=pl.col("ts") // (86_400 * NS))
        .sort("symbol", "ts")
    )
    table = (
        trades.group_by("symbol")
        .agg(price=pl.col("price").median())
        .join(session_variance(trades, 0).rename({"v": "tick"}), on="symbol")
        .join(session_variance(trades, 60).rename({"v": "s60"}), on="symbol")
        .join(session_variance(trades, 1800).rename({"v": "s1800"}), on="symbol")
        .with_columns(
            tick=(pl.col("tick") / pl.col("s1800")).sqrt(),
            s60=(pl.col("s60") / pl.col("s1800")).sqrt(),
        )
    )
    print(f"{args.data}: {trades.height:,} trades, {table.height} symbols")
    print("median price band   symbols   every trade   60 s   (volatility / the 30-minute one)")
    for lo, hi in PRICE_BANDS:
        band = table.filter((pl.col("price") >= lo) & (pl.col("price") < hi))
        if band.height:
            print(f"{lo:>7.0f} - {hi:<9.0f}{band.height:>9}{band['tick'].median():>14.2f}"
                  f"{band['s60'].median():>7.2f}")  # fmt: skip
    print(f"{'all':<19}{table.height:>9}{table['tick'].median():>14.2f}"
          f"{table['s60'].median():>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
