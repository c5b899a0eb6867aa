"""Trades given as a frame, as a tape or read straight into a tape replay the same; fills reach
strategies in time order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from backtests.data import TradeTape, load_market, load_news, load_tape, trade_tape
from backtests.runner import run_backtest
from engine.brokers.sim_venue import VenueSettings
from engine.orders import Fill
from engine.scoring import Scorer
from engine.strategy import Strategy, StrategyConfig
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig
from tests.support.engine_parts import no_news
from tests.support.synth import synth_files


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return synth_files(
        tmp_path_factory, 5, days=2, symbols=8, headlines_per_day=20,
        trades_per_symbol_per_day=300,
    )  # fmt: skip


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
    """Buys A at 5 and B at 30 (on timers); sends a follow-up on its first fill; records when
    it hears of each fill and the last trade it could see then."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.heard: list[tuple[int, int, int]] = []

    def on_start(self) -> None:
        self.ctx.set_timer("A", 5)
        self.ctx.set_timer("B", 30)

    def on_timer(self, name: str, ts_ns: int) -> None:
        self.ctx.submit("n", name, 1, "first")

    def on_fill(self, fill: Fill) -> None:
        seen = int(self.ctx.market.last_ts.max())  # type: ignore[attr-defined]
        self.heard.append((self.ctx.clock.now_ns(), fill.ts_event, seen))
        if len(self.heard) == 1:
            self.ctx.submit("n", "A", 1, "follow-up")


def test_fills_reach_strategies_at_their_time_and_one_sent_on_a_fill_comes_first(
    scorer: Scorer,
) -> None:
    tape = TradeTape(
        ts=np.array([0, 10, 10, 20, 30, 40, 40, 50], np.int64),
        slot=np.array([0, 0, 1, 0, 0, 1, 0, 1], np.int32),
        price=np.array([10.0, 10.5, 20.0, 11.0, 11.5, 21.0, 12.0, 22.0]),
        symbols=["A", "B"],
    )
    spy = _Recorder(StrategyConfig(strategy_id="s"))
    result = run_backtest(no_news(), tape, [spy], scorer, venue=VenueSettings(latency_ns=5))
    # A fills at 10 (sent at 5), the follow-up (sent at 10) at 20, B (sent at 30) at 40; each
    # heard at its time, having seen the trades up to it (those at the same time included)
    assert spy.heard == [(10, 10, 10), (20, 20, 20), (40, 40, 40)]
    assert [f.price for f in result.fills] == [10.5 * 1.0002, 11.0 * 1.0002, 21.0 * 1.0002]


class _TimerOnFill(Strategy):
    """Buys A at 5; on the fill sets a timer 1 ns later and records what it sees then."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.seen: list[tuple[str, int, int]] = []

    def on_start(self) -> None:
        self.ctx.set_timer("buy", 5)

    def on_fill(self, fill: Fill) -> None:
        self.ctx.set_timer("after-fill", fill.ts_event + 1)

    def on_timer(self, name: str, ts_ns: int) -> None:
        if name == "buy":
            self.ctx.submit("n", "A", 1, "entry")
        seen = int(self.ctx.market.last_ts.max())  # type: ignore[attr-defined]
        self.seen.append((name, self.ctx.clock.now_ns(), seen))


def test_a_timer_set_on_a_fill_sees_no_trade_after_its_time(scorer: Scorer) -> None:
    """The timer falls between trades of one batch (no headline or timer cut it before)."""
    tape = TradeTape(
        ts=np.array([0, 10, 20, 30, 40], np.int64),
        slot=np.array([0, 0, 0, 0, 0], np.int32),
        price=np.array([10.0, 10.5, 11.0, 11.5, 12.0]),
        symbols=["A"],
    )
    spy = _TimerOnFill(StrategyConfig(strategy_id="s"))
    run_backtest(no_news(), tape, [spy], scorer, venue=VenueSettings(latency_ns=1))
    assert spy.seen == [("buy", 5, 0), ("after-fill", 11, 10)]


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
