"""The sweep's numba fast path agrees with its reference and with the event-driven backtest."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtests.data import load_market, load_news
from backtests.runner import run_backtest
from backtests.sweep import Costs, prepare, reference_pnl, run_grid
from engine.brokers.sim_venue import VenueSettings
from engine.errors import InputError
from engine.runtime import RiskLimits
from engine.scoring import Scorer
from spillover.backtest_cli import _sweep_grid
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig
from tests.support.synth import synth_files


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return synth_files(
        tmp_path_factory, 11, days=3, symbols=10, headlines_per_day=15,
        trades_per_symbol_per_day=400,
    )  # fmt: skip


def test_fast_path_matches_reference_for_every_setting(
    market: tuple[Path, Path], scorer: Scorer
) -> None:
    news, trades = load_news(market[0]), load_market(market[1]).frame
    inputs = prepare(news, trades, scorer)
    costs = Costs(latency_ns=100_000_000)
    grid = run_grid(inputs, [0.1, 0.2, 0.4], [60, 600], ["none", "mean"], costs, workers=2)
    assert grid.height == 12
    for row in grid.iter_rows(named=True):
        ref = reference_pnl(inputs, row["threshold"], row["hold_s"], row["hedge"], costs)
        assert row["pnl"] == pytest.approx(ref, rel=1e-9, abs=1e-6)
    assert grid["pnl"].max() > 0  # the planted effect pays at some setting


def test_fast_path_and_event_driven_run_agree_on_pnl(
    market: tuple[Path, Path], scorer: Scorer
) -> None:
    """Tolerance 1e-6 relative: both fill at the same trades with the same whole-share sizes.

    The event-driven run is set to what the fast path models: no hedge, sizes proportional to
    score (a volatility floor far above any real volatility), no stop or take-profit, no borrow
    fee and no risk limit in the way.
    """
    news, trades = load_news(market[0]), load_market(market[1]).frame
    costs = Costs(latency_ns=100_000_000)
    config = ShockHedgeConfig(
        strategy_id="h", threshold=0.2, hold_seconds=600, hedge="none", min_vol=1e9,
        stop_loss=1e9, take_profit=1e9, max_legs=costs.max_legs, gross_notional=costs.gross,
    )  # fmt: skip
    venue = VenueSettings(latency_ns=costs.latency_ns, slippage_bps=costs.slippage_bps,
                          commission_per_share=costs.commission_per_share, borrow_rate=0.0)  # fmt: skip
    result = run_backtest(news, trades, [ShockHedge(config)], scorer, venue=venue,
                          risk=RiskLimits(max_symbol_notional=1e12, max_gross_notional=1e12))  # fmt: skip
    event_driven = (
        result.equity.filter(result.equity["strategy_id"] == "h")["equity"][-1] - 1_000_000.0
    )
    fast = run_grid(prepare(news, trades, scorer), [0.2], [600], ["none"], costs, workers=1)["pnl"][
        0
    ]
    assert len(result.fills) > 10
    assert fast == pytest.approx(event_driven, rel=1e-6)


@pytest.mark.parametrize(
    ("thresholds", "holds", "hedges", "said"),
    [
        ("0.1,abc", "60", "none", "--thresholds '0.1,abc': write numbers"),
        ("-0.1", "60", "none", "--thresholds: -0.1 is out of range: each must be at least 0"),
        ("0.1", "60,0", "none", "--holds: 0 is out of range: each must be above 0"),
        ("0.1", ",", "none", "--holds ',': give at least one number"),
        ("0.1", "60", "none,beta", "--hedges 'none,beta': use none or mean"),
    ],
)
def test_a_bad_sweep_grid_is_refused_before_any_data_is_read(
    thresholds: str, holds: str, hedges: str, said: str
) -> None:
    with pytest.raises(InputError) as caught:
        _sweep_grid(thresholds, holds, hedges)
    assert str(caught.value).startswith(said)


def test_a_good_sweep_grid_is_read_as_given() -> None:
    assert _sweep_grid("0,0.2", "60, 300", "none, mean") == (
        [0.0, 0.2],
        [60.0, 300.0],
        ["none", "mean"],
    )
