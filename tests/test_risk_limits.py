"""The engine's notional limits block what adds risk, never what takes it off."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import SimClock
from engine.market import MarketState
from engine.orders import Fill, OrderIntent
from engine.runtime import Engine, RiskLimits
from engine.scoring import Scorer
from engine.strategy import Strategy, StrategyConfig
from tests.support.engine_parts import RecordingBroker


def test_orders_that_reduce_a_position_pass_even_over_the_gross_limit(mini_scorer: Scorer) -> None:
    market = MarketState(["AAA", "BBB"], ["x", "x"])
    market.on_trades(np.array([0, 1]), np.array([1, 1]), np.array([100.0, 100.0]))
    broker = RecordingBroker()
    engine = Engine(mini_scorer, market, SimClock(10), broker,
                    RiskLimits(max_symbol_notional=50_000, max_gross_notional=60_000))  # fmt: skip
    strategy = Strategy(StrategyConfig(strategy_id="s"))
    engine.add_strategy(strategy)
    for sym, qty in (("AAA", 400.0), ("BBB", 400.0)):  # 80,000 gross: over the limit already
        engine.on_fill(Fill(client_order_id=sym, strategy_id="s", symbol=sym, qty=qty,
                            price=100.0, ts_event=5))  # fmt: skip
    ctx = strategy.ctx
    ctx.submit("n1", "AAA", -400.0, "exit")  # closes: passes
    ctx.submit("n1", "BBB", -100.0, "trim")  # reduces: passes
    ctx.submit("n1", "BBB", 10.0, "add")  # adds to a book over the limit: blocked
    ctx.submit("n1", "AAA", -1000.0, "flip")  # flips to a bigger short: blocked (symbol limit)
    assert [i.leg for i in broker.sent] == ["exit", "trim"]
    reasons = [reason for _, reason in engine.blocked]
    assert "gross notional" in reasons[0] and "symbol notional" in reasons[1]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.floats(-900.0, 900.0).map(round)), max_size=40),
    st.lists(st.floats(0.5, 300.0), min_size=30, max_size=30),
    st.integers(0, 40),
)
def test_the_gross_limit_blocks_exactly_as_numpy_sums_the_book(
    mini_scorer: Scorer, fills: list[tuple[int, float]], prices: list[float], check_at: int
) -> None:
    """The check sums shares by slot (a kernel) and lets numpy's pairwise sum over the book,
    laid out as it always was, decide when the total is within a hair of the limit; with the
    limit at the numpy total, give or take a few ulps, it decides as numpy alone would.

    The book's layout: its symbols when the check first ran after a fill of a new symbol, in
    that order, closed ones at 0 (S30 is not tracked by the market: it counts 0)."""
    symbols = [f"S{i}" for i in range(30)]
    market = MarketState(symbols, ["x"] * 30)
    market.on_trades(np.arange(30), np.ones(30, np.int64), np.array(prices))
    engine = Engine(mini_scorer, market, SimClock(10), RecordingBroker(),
                    RiskLimits(max_symbol_notional=1e12, max_gross_notional=1e12))  # fmt: skip
    strategy = Strategy(StrategyConfig(strategy_id="s"))
    engine.add_strategy(strategy)
    positions = strategy.ctx.portfolio.positions
    layout: list[str] | None = None
    for i, (s, qty) in enumerate(fills):
        symbol = f"S{s}"
        engine.on_fill(Fill(client_order_id=str(i), strategy_id="s", symbol=symbol, qty=qty or 1.0,
                            price=1.0, ts_event=5))  # fmt: skip
        if layout is not None and symbol not in layout:
            layout = None
        if i == check_at:  # a check in between fixes the layout
            side = 1.0 if positions.get("S0", 0.0) >= 0 else -1.0  # adds: checked in full
            strategy.ctx.submit("n", "S0", side, f"probe{i}")
            layout = list(positions) if layout is None else layout
    layout = list(positions) if layout is None else layout
    price = market.price("S5")
    now_held = positions.get("S5", 0.0)
    if abs(now_held + 1.0) <= abs(now_held) and (now_held + 1.0) * now_held >= 0:
        return  # a reducing order is never checked
    after = (now_held + 1.0) * price
    tracked = [s for s in layout if s in market.slot]
    exposures = np.array([positions.get(s, 0.0) * market.price(s) for s in tracked])
    numpy_total = float(np.abs(exposures).sum()) - abs(now_held * price) + abs(after)
    intent = OrderIntent(strategy_id="s", news_id="n", symbol="S5", qty=1.0, leg="l", ts_init=10)
    for nudge in range(-3, 4):  # the limit a few ulps either side of numpy's total
        limit = numpy_total + nudge * np.spacing(numpy_total)
        engine.risk = RiskLimits(max_symbol_notional=1e12, max_gross_notional=limit)
        assert bool(engine._risk_check(intent)) == (numpy_total > limit)
    assert engine._slots["s"].layout is not None and list(engine._slots["s"].layout) == layout
