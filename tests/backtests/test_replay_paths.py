"""Trades given as a frame, as a tape or read straight into a tape replay the same; fills reach
strategies in time order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backtests.data import load_market, load_news, load_tape, trade_tape
from backtests.runner import run_backtest
from backtests.synth import generate
from engine.brokers.sim_venue import SimulatedVenue, VenueSettings
from engine.clock import SimClock
from engine.market import MarketState
from engine.orders import Fill
from engine.runtime import Engine
from engine.scoring import Scorer
from engine.strategy import Strategy, StrategyConfig
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("synth")
    made = generate(
        out, seed=5, days=2, symbols=8, headlines_per_day=20, trades_per_symbol_per_day=300
    )
    return made.news_path, made.trades_path


def test_a_tape_read_from_the_file_equals_one_made_from_the_loaded_frame(
    synth: tuple[Path, Path],
) -> None:
    direct = load_tape(synth[1])
    made = trade_tape(load_market(synth[1]).frame)
    assert direct.symbols == made.symbols
    np.testing.assert_array_equal(direct.ts, made.ts)
    np.testing.assert_array_equal(direct.slot, made.slot)
    np.testing.assert_array_equal(direct.price, made.price)
    assert np.all(np.diff(direct.ts) >= 0)


def test_frame_and_tape_replay_the_same(synth: tuple[Path, Path], scorer: Scorer) -> None:
    news, frame = load_news(synth[0]), load_market(synth[1]).frame
    runs = []
    for trades in (frame, load_tape(synth[1])):
        hedge = ShockHedge(ShockHedgeConfig(strategy_id="h", threshold=0.1))
        runs.append(run_backtest(news, trades, [hedge], scorer))
    a, b = runs
    assert a.fills == b.fills
    assert a.equity.equals(b.equity)
    assert len(a.fills) > 0


class _Recorder(Strategy):
    """Sends a follow-up order on its first fill; records when it hears of each fill."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.heard: list[tuple[int, int]] = []

    def on_fill(self, fill: Fill) -> None:
        self.heard.append((self.ctx.clock.now_ns(), fill.ts_event))
        if len(self.heard) == 1:
            self.ctx.submit("n", "A", 1, "follow-up")


def test_a_fill_of_an_order_sent_on_a_fill_comes_before_later_fills(scorer: Scorer) -> None:
    market = MarketState(["A", "B"], ["x", "x"])
    clock = SimClock(0)
    venue = SimulatedVenue(VenueSettings(latency_ns=5), slot_of={"A": 0, "B": 1})
    engine = Engine(scorer, market, clock, venue)
    spy = _Recorder(StrategyConfig(strategy_id="s"))
    engine.add_strategy(spy, cash=1e6)
    market.on_trades(np.array([0, 1]), np.array([0, 0], np.int64), np.array([10.0, 20.0]))
    spy.ctx.submit("n", "A", 1, "first")
    spy.ctx.submit("n", "B", 1, "second")
    ts = np.array([10, 20, 30, 40], np.int64)
    venue.pending[1] = (35, venue.pending[1][1])  # B's order reaches the venue later
    engine.on_trades(None, ts, np.array([10.0, 10.5, 11.0, 21.0]), np.array([0, 0, 0, 1]))
    # fills at 10 (A), 20 (the follow-up, sent at 10), 40 (B): heard in that order, on time
    assert spy.heard == [(10, 10), (20, 20), (40, 40)]


def test_headlines_scored_up_front_are_the_shocks_scored_on_receipt(scorer: Scorer) -> None:
    """Batches, and single scoring for items with more symbols than `Scorer.score` hints."""
    from backtests.runner import _Prescored
    from engine.news import NewsItem

    many = [c.symbol for c in scorer.universe.companies[:60:3]]
    texts = [
        ("Nvidia beats estimates as AI chip demand soars", ["NVDA"]),
        ("Chipmakers rally after a supplier raises guidance", many),
        ("Nvidia beats estimates as AI chip demand soars", []),
        ("Apple recalls phones over battery fires", ["AAPL"]),
    ]
    items = [
        NewsItem(id=str(i), headline=h, symbols=s, ts_event=10**18 + i * 10**9, ts_init=10**18 + i * 10**9 + 1)
        for i, (h, s) in enumerate(texts)
    ]  # fmt: skip
    pre = _Prescored(scorer, items)
    got = [pre.score(item) for item in items]
    scorer.reset_novelty()
    assert got == [scorer.score(item) for item in items]
    assert got[2].novelty < 1.0  # the repeat was damped: novelty flowed through


def test_a_tape_from_a_file_in_symbol_order_with_ties_in_time(tmp_path: Path) -> None:
    import polars as pl

    frame = pl.DataFrame(
        {
            "ts": [5, 5, 9, 1, 5, 5, 2, 7],
            "symbol": ["b", "b", "b", "a", "a", "a", "c", "c"],
            "price": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "size": [1] * 8,
        }
    )
    path = tmp_path / "trades.parquet"
    frame.write_parquet(path)
    direct = load_tape(path)
    made = trade_tape(load_market(path).frame)
    assert direct.symbols == made.symbols == ["A", "B", "C"]
    assert direct.ts.tolist() == made.ts.tolist() == [t * 10**9 for t in (1, 2, 5, 5, 5, 5, 7, 9)]
    assert direct.price.tolist() == made.price.tolist() == [4.0, 7.0, 5.0, 6.0, 1.0, 2.0, 8.0, 3.0]
    assert direct.slot.tolist() == made.slot.tolist()
