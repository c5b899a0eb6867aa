"""The event-driven backtest: no look-ahead, planted moves become PnL, bad strategies are isolated."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from backtests.runner import run_backtest
from engine.brokers.sim_venue import VenueSettings
from engine.scoring import Scorer, Shock
from engine.strategy import Strategy, StrategyConfig
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig

T0 = 1_764_081_000 * 10**9  # 2025-11-25 14:30 UTC
HEADLINE = "Meta reportedly plans to sell its spare AI computing power to outside customers"
PLANTED = {"META": 0.03, "CRWV": -0.04, "NBIS": -0.04, "MU": -0.02}


def market(seed: int = 3) -> pl.DataFrame:
    """One trade a second per symbol from 10 min before to 50 min after the headline."""
    rng = np.random.default_rng(seed)
    secs = np.arange(-600, 3000)
    frames = []
    for symbol, move in PLANTED.items():
        ramp = np.clip((secs - 5) / 120.0, 0, 1) * move  # starts 5 s after, done in 2 min
        noise = np.cumsum(rng.normal(0, 0.0002, secs.shape[0]))
        price = 100 * np.exp(ramp + noise)
        frames.append(
            pl.DataFrame(
                {"ts": T0 + secs * 10**9 + 137, "symbol": symbol, "price": price, "size": 100}
            )
        )
    return pl.concat(frames)


def news() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["n1"],
            "headline": [HEADLINE],
            "summary": [""],
            "symbols": [["META"]],
            "source": [""],
            "ts_event": [T0],
        },
        schema_overrides={"symbols": pl.List(pl.String)},
    )


class Spy(Strategy):
    """Records what it could see when each shock arrived."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.seen: list[tuple[int, int, int]] = []

    def on_shock(self, shock: Shock) -> None:
        market = self.ctx.market
        self.seen.append((self.ctx.clock.now_ns(), shock.ts_init, int(market.last_ts.max())))  # type: ignore[attr-defined]


class Broken(Strategy):
    def on_shock(self, shock: Shock) -> None:
        raise RuntimeError("bug in a plugin")


def test_no_strategy_sees_a_headline_before_receipt_or_a_price_after_its_decision(
    scorer: Scorer,
) -> None:
    spy = Spy(StrategyConfig(strategy_id="spy"))
    run_backtest(news(), market(), [spy], scorer, receipt_latency_s=2.0)
    [(now, ts_init, last_trade)] = spy.seen
    assert ts_init == T0 + 2 * 10**9
    assert now == ts_init
    assert last_trade < now


def test_shock_hedge_turns_the_planted_spillover_into_profit(scorer: Scorer) -> None:
    hedge = ShockHedge(ShockHedgeConfig(strategy_id="hedge", hold_seconds=600, take_profit=1.0))
    result = run_backtest(news(), market(), [hedge], scorer, venue=VenueSettings(latency_ns=10**8))
    entries = [f for f in result.fills if f.ts_event < T0 + 60 * 10**9]
    sides = {f.symbol: np.sign(f.qty) for f in entries}
    assert sides == {"META": 1, "CRWV": -1, "NBIS": -1, "MU": -1}
    assert all(f.ts_event >= T0 + 2 * 10**9 + 10**8 for f in result.fills)
    book = result.equity.filter(pl.col("strategy_id") == "hedge")
    assert book["equity"][-1] > 1_000_000.0  # net of slippage and commission
    assert sum(f.qty for f in result.fills if f.symbol == "META") == pytest.approx(0.0)  # closed


def test_a_raising_strategy_is_isolated(scorer: Scorer) -> None:
    hedge = ShockHedge(ShockHedgeConfig(strategy_id="hedge"))
    result = run_backtest(
        news(), market(), [Broken(StrategyConfig(strategy_id="broken")), hedge], scorer
    )
    assert any(f.strategy_id == "hedge" for f in result.fills)
