"""What a backtest measured: per-headline legs with realised moves, IC by horizon, summary."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl

from backtests.data import TradeTape
from backtests.runner import BacktestResult

HORIZONS_S = {"1m": 60, "5m": 300, "30m": 1800, "1d": 86_400}
BAR_HORIZONS_S = {"1d": 86_400, "2d": 2 * 86_400, "5d": 5 * 86_400}  # daily bars: calendar days


def event_table(
    result: BacktestResult,
    trades: pl.DataFrame | TradeTape,
    horizons: dict[str, int] = HORIZONS_S,
) -> pl.DataFrame:
    """One row per (headline, leg): predicted score and the realised log move at each horizon.

    The move is measured from the last trade at or before the headline's receipt to the last
    trade at or before receipt + horizon (null where either is missing).
    """
    rows = [
        {
            "news_id": shock.news_id,
            "ts_init": shock.ts_init,
            "headline": shock.headline,
            "events": ",".join(e.id for e in shock.events),
            "symbol": leg.symbol,
            "role": leg.role,
            "is_subject": leg.role in ("subject", "object"),
            "score": leg.score,
        }
        for shock in result.shocks
        for leg in shock.legs
    ]
    schema = {"news_id": pl.String, "ts_init": pl.Int64, "headline": pl.String, "events": pl.String,
              "symbol": pl.String, "role": pl.String, "is_subject": pl.Boolean, "score": pl.Float64}  # fmt: skip
    legs = pl.DataFrame(rows, schema=schema)
    if isinstance(trades, pl.DataFrame):
        return add_moves(legs, trades.select("symbol", "ts", "price").sort("ts"), horizons)
    # a tape: join on symbol slots, never building 10 million strings
    slot_of = {s: i for i, s in enumerate(trades.symbols)}
    keyed = legs.with_columns(
        pl.col("symbol").alias("_name"),
        pl.col("symbol").replace_strict(slot_of, default=-1, return_dtype=pl.Int32),
    )
    prices = pl.DataFrame({"symbol": trades.slot, "ts": trades.ts, "price": trades.price})
    moved = add_moves(keyed, prices, horizons)
    return moved.with_columns(pl.col("_name").alias("symbol")).drop("_name")


def add_moves(legs: pl.DataFrame, prices: pl.DataFrame, horizons: dict[str, int]) -> pl.DataFrame:
    """Add `ret_<h>` to legs (`symbol`, `ts_init`): the log move from receipt to receipt + h."""
    out = _price_at(legs, prices, 0, "p0")
    for name, seconds in horizons.items():
        out = _price_at(out, prices, seconds, f"p_{name}")
        out = out.with_columns(
            (pl.col(f"p_{name}") / pl.col("p0")).log().alias(f"ret_{name}")
        ).drop(f"p_{name}")
    return out.drop("p0")


def _price_at(legs: pl.DataFrame, prices: pl.DataFrame, seconds: int, name: str) -> pl.DataFrame:
    query = (
        legs.with_row_index("_row")
        .with_columns((pl.col("ts_init") + seconds * 10**9).alias("_at"))
        .sort("_at")
    )
    joined = query.join_asof(
        prices.rename({"ts": "_at", "price": name}),
        on="_at",
        by="symbol",
        strategy="backward",
        check_sortedness=False,
    )
    return joined.sort("_row").drop("_row", "_at")


def spearman(x: pl.Series, y: pl.Series) -> float | None:
    """Rank correlation of two series over rows where both are present (None if < 3 rows)."""
    frame = pl.DataFrame({"x": x, "y": y}).drop_nulls().filter(pl.col("y").is_finite())
    if frame.height < 3:
        return None
    value = frame.select(pl.corr(pl.col("x").rank(), pl.col("y").rank())).item()
    return None if value is None or math.isnan(value) else float(value)


def information_coefficients(
    events: pl.DataFrame, horizons: dict[str, int] = HORIZONS_S
) -> dict[str, dict[str, float | None]]:
    """IC by horizon, separately for subjects (named companies) and spillover legs."""
    out: dict[str, dict[str, float | None]] = {}
    for group, flag in (("subject", True), ("spillover", False)):
        part = events.filter(pl.col("is_subject") == flag)
        out[group] = {h: spearman(part["score"], part[f"ret_{h}"]) for h in horizons}
    return out


def news_pnl(result: BacktestResult) -> dict[str, float]:
    """Cash result of each traded headline's orders (its baskets are closed by the end)."""
    news_of = {i.client_order_id: i.news_id for i in result.intents}
    pnl: dict[str, float] = {}
    for fill in result.fills:
        nid = news_of.get(fill.client_order_id, "")
        pnl[nid] = pnl.get(nid, 0.0) - fill.qty * fill.price - fill.commission
    return pnl


def summary(
    result: BacktestResult, events: pl.DataFrame, cash: float, horizons: dict[str, int] = HORIZONS_S
) -> dict[str, object]:
    """The figures of `summary.json`."""
    equity = (
        result.equity.group_by("ts", maintain_order=True).agg(pl.col("equity").sum()).sort("ts")
    )
    values = equity["equity"].to_numpy()
    start = cash * max(1, len(result.strategy_ids))
    total_return = float(values[-1] / start - 1) if len(values) else 0.0
    peak = np.maximum.accumulate(values) if len(values) else values
    max_dd = float(np.max(1 - values / peak)) if len(values) else 0.0
    rets = np.diff(values) / values[:-1] if len(values) > 1 else np.zeros(0)
    sharpe = 0.0
    if len(rets) > 1 and rets.std() > 0:
        step_s = float(np.median(np.diff(equity["ts"].to_numpy()))) / 1e9
        per_year = 252 * 86_400 / step_s if step_s >= 86_400 else 252 * 23_400 / step_s
        sharpe = float(rets.mean() / rets.std() * math.sqrt(per_year))
    per_news = news_pnl(result)
    traded = [v for k, v in per_news.items() if k]
    notional = sum(abs(f.qty * f.price) for f in result.fills)
    return {
        "total_return": total_return,
        "sharpe": sharpe,
        "max_drawdown": max_dd,
        "n_trades": len(result.fills),
        "hit_rate": (sum(v > 0 for v in traded) / len(traded)) if traded else None,
        "turnover": notional / start if start else 0.0,
        "pnl": float(values[-1] - start) if len(values) else 0.0,
        "headlines": len(result.shocks),
        "headlines_traded": len(traded),
        "blocked_orders": result.blocked,
        "rejected_orders": result.rejected,
        "skipped_trades": result.skipped_trades,
        "ic": information_coefficients(events, horizons),
    }


def for_strategy(result: BacktestResult, strategy_id: str) -> BacktestResult:
    """The part of a result that belongs to one strategy (shocks are shared)."""
    return dataclasses.replace(
        result,
        fills=[f for f in result.fills if f.strategy_id == strategy_id],
        intents=[i for i in result.intents if i.strategy_id == strategy_id],
        equity=result.equity.filter(pl.col("strategy_id") == strategy_id),
        strategy_ids=[strategy_id],
    )


def summary_by_strategy(
    result: BacktestResult, events: pl.DataFrame, cash: float, horizons: dict[str, int] = HORIZONS_S
) -> dict[str, dict[str, object]]:
    """`summary` of each strategy alone, by id, for comparing strategies over the same replay.

    Headline counts and IC belong to the scorer, and blocked or rejected orders and skipped
    trades are counted for the run as a whole: those stay in the overall summary.
    """
    out: dict[str, dict[str, object]] = {}
    for sid in result.strategy_ids:
        figures = summary(for_strategy(result, sid), events, cash, horizons)
        for shared in ("headlines", "blocked_orders", "rejected_orders", "skipped_trades", "ic"):
            figures.pop(shared)
        out[sid] = figures
    return out
