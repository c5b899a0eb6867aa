"""shock_hedge's weights are the plain formula's, to the bit, for every hedge and beta option.

`weights` skips what its hedge does not use (no betas for a lone leg hedged with the legs);
the reference below computes everything, as the strategy first did, and the two must agree on
every float and on the order of the symbols.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.clock import SimClock
from engine.market import MarketState
from engine.scoring import Shock
from engine.scoring.shock import ShockLeg
from engine.strategy import Portfolio, StrategyContext
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig

SYMBOLS = ["A", "B", "C", "D", "SPY"]  # "X" (in legs only) is not tracked


def reference_weights(cfg: ShockHedgeConfig, market: MarketState, shock: Shock) -> dict[str, float]:
    """The weights as first written: every beta asked for, whatever the hedge."""
    legs = [
        leg
        for leg in shock.legs
        if abs(leg.score) >= cfg.threshold and market.price(leg.symbol) > 0
    ]
    legs = legs[: cfg.max_legs]
    raw = {leg.symbol: leg.score / max(market.daily_vol(leg.symbol), cfg.min_vol) for leg in legs}
    if not raw:
        return {}
    beta_of = market.sector_beta if cfg.beta == "sector" else market.beta
    betas = {s: beta_of(s) for s in raw}
    exposure = sum(w * betas[s] for s, w in raw.items())
    if cfg.hedge == "legs" and len(raw) > 1:
        b2 = sum(b * b for b in betas.values())
        if b2 > 0:
            raw = {s: w - betas[s] * exposure / b2 for s, w in raw.items()}
    elif cfg.hedge == "index" and market.price(cfg.hedge_symbol) > 0:
        raw[cfg.hedge_symbol] = raw.get(cfg.hedge_symbol, 0.0) - exposure
    gross = sum(abs(w) for w in raw.values())
    if gross <= 0:
        return {}
    return {s: w * cfg.gross_notional / gross for s, w in raw.items()}


def _market(draw: Any) -> MarketState:
    n = len(SYMBOLS)
    market = MarketState(SYMBOLS, ["x", "x", "y", "y", "y"])
    values = st.floats(1e-6, 1e-2)
    market.last_price[:] = draw(
        st.lists(st.sampled_from([0.0, 5.0, 101.5, 733.25]), min_size=n, max_size=n)
    )
    market.var_rate[:] = draw(
        st.lists(st.sampled_from([0.0, 1e-9, 3e-7, 2e-5]), min_size=n, max_size=n)
    )
    market.var_mkt[0] = draw(st.sampled_from([0.0, 1e-4]))
    market.cov_mkt[:] = draw(st.lists(st.floats(-1e-4, 3e-4), min_size=n, max_size=n))
    market.var_sec[:] = draw(st.lists(st.one_of(st.just(0.0), values), min_size=n, max_size=n))
    market.cov_sec[:] = draw(st.lists(st.floats(-1e-4, 3e-4), min_size=n, max_size=n))
    return market


@st.composite
def cases(draw: Any) -> tuple[ShockHedgeConfig, MarketState, Shock]:
    cfg = ShockHedgeConfig(
        strategy_id="h",
        threshold=draw(st.sampled_from([0.0, 0.15, 0.5])),
        max_legs=draw(st.integers(0, 5)),
        hedge=draw(st.sampled_from(["legs", "index", "none"])),
        beta=draw(st.sampled_from(["market", "sector"])),
        hedge_symbol=draw(st.sampled_from(["SPY", "A", "X"])),
    )
    symbols = st.sampled_from([*SYMBOLS, "X"])
    legs = draw(
        st.lists(st.tuples(symbols, st.floats(-1.0, 1.0)), max_size=6, unique_by=lambda x: x[0])
    )
    shock = Shock(
        news_id="n", ts_event=0, ts_init=0, headline="", subjects=[], events=[],
        legs=[ShockLeg(s, score, "peer") for s, score in legs],
    )  # fmt: skip
    return cfg, _market(draw), shock


@given(cases())
def test_weights_equal_the_plain_formula_bit_for_bit(
    case: tuple[ShockHedgeConfig, MarketState, Shock],
) -> None:
    cfg, market, shock = case
    strategy = ShockHedge(cfg)
    strategy.bind(
        StrategyContext(
            "h", SimClock(0), logging.LoggerAdapter(logging.getLogger("h")), market, Portfolio(),
            lambda intent: None, lambda name, ts: None,
        )
    )  # fmt: skip
    got = repr(list(strategy.weights(shock).items()))  # floats to the bit, in order
    assert got == repr(list(reference_weights(cfg, market, shock).items()))


def test_legs_without_beta_are_traded_unhedged_not_divided_by_zero() -> None:
    market = MarketState(["A", "B"], ["x", "x"])
    market.last_price[:] = [10.0, 20.0]
    market.var_rate[:] = 1e-6
    market.var_mkt[0] = 1e-4  # a market variance, but neither symbol moves with the market
    strategy = ShockHedge(ShockHedgeConfig(strategy_id="h", hedge="legs"))
    strategy.bind(
        StrategyContext(
            "h", SimClock(0), logging.LoggerAdapter(logging.getLogger("h")), market, Portfolio(),
            lambda intent: None, lambda name, ts: None,
        )
    )  # fmt: skip
    shock = Shock(
        news_id="n", ts_event=0, ts_init=0, headline="", subjects=[], events=[],
        legs=[ShockLeg("A", 0.6, "subject"), ShockLeg("B", -0.3, "peer")],
    )  # fmt: skip
    weights = strategy.weights(shock)
    assert weights == pytest.approx({"A": 100_000.0 * 2 / 3, "B": -100_000.0 / 3})
