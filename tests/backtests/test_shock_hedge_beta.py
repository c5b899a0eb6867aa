"""shock_hedge hedges the market beta by default and the sector beta when asked."""

from __future__ import annotations

import numpy as np
import pytest

from engine.brokers.sim_venue import SimulatedVenue
from engine.clock import SimClock
from engine.market import MarketState
from engine.runtime import Engine
from engine.scoring import Scorer, Shock
from engine.scoring.shock import ShockLeg
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig

SYMBOLS = ["A", "B", "C"]


def _market() -> MarketState:
    market = MarketState(SYMBOLS, ["x", "x", "y"])
    market.last_price[:] = [100.0, 50.0, 20.0]
    market.var_rate[:] = 1e-9
    market.var_mkt[0] = 1e-4
    market.cov_mkt[:] = [0.5e-4, 1.5e-4, 1.0e-4]  # market betas 0.5, 1.5, 1.0
    market.var_sec[:] = 1e-4
    market.cov_sec[:] = [2.0e-4, 0.5e-4, 0.8e-4]  # sector betas 2.0, 0.5, 0.8
    return market


def _weights(scorer: Scorer, beta: str | None) -> dict[str, float]:
    market = _market()
    extra = {} if beta is None else {"beta": beta}
    strategy = ShockHedge(ShockHedgeConfig(strategy_id="h", min_vol=0.01, **extra))
    engine = Engine(scorer, market, SimClock(0), SimulatedVenue())
    engine.add_strategy(strategy)
    shock = Shock(
        news_id="n", ts_event=0, ts_init=0, headline="", subjects=[], events=[],
        legs=[ShockLeg("A", 0.6, "subject"), ShockLeg("B", -0.4, "peer"), ShockLeg("C", 0.3, "peer")],
    )  # fmt: skip
    return strategy.weights(shock)


def test_default_hedge_is_neutral_to_the_market_beta(scorer: Scorer) -> None:
    w = _weights(scorer, None)
    assert w == _weights(scorer, "market")
    market = _market()
    assert sum(w[s] * market.beta(s) for s in SYMBOLS) == pytest.approx(0.0, abs=1e-6)
    assert abs(sum(w[s] * market.sector_beta(s) for s in SYMBOLS)) > 1.0


def test_sector_option_hedges_the_sector_beta(scorer: Scorer) -> None:
    w = _weights(scorer, "sector")
    market = _market()
    assert sum(w[s] * market.sector_beta(s) for s in SYMBOLS) == pytest.approx(0.0, abs=1e-6)
    assert abs(sum(w[s] * market.beta(s) for s in SYMBOLS)) > 1.0
    assert sum(abs(x) for x in w.values()) == pytest.approx(100_000.0)
    assert np.sign(w["A"]) == 1
