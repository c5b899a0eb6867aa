"""The engine's notional limits block what adds risk, never what takes it off."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import SimClock
from engine.kernels.ledger_nb import book_gross_nb
from engine.market import MarketState
from engine.orders import Fill, OrderIntent
from engine.runtime import Engine, RiskLimits, reference_book_gross
from engine.scoring import Scorer
from engine.strategy import Strategy, StrategyConfig


class Recorder:
    def __init__(self) -> None:
        self.sent: list[OrderIntent] = []

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        self.sent.append(intent)
        return True


def test_orders_that_reduce_a_position_pass_even_over_the_gross_limit(mini_scorer: Scorer) -> None:
    market = MarketState(["AAA", "BBB"], ["x", "x"])
    market.on_trades(np.array([0, 1]), np.array([1, 1]), np.array([100.0, 100.0]))
    broker = Recorder()
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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.floats(-900.0, 900.0).map(round)), max_size=12),
    st.lists(st.floats(0.5, 300.0), min_size=6, max_size=6),
    st.floats(-2.0, 2.0),
)
def test_the_gross_limit_blocks_exactly_as_numpy_sums_the_book(
    mini_scorer: Scorer, book: list[tuple[int, float]], prices: list[float], nudge: float
) -> None:
    """The check sums the book in order (a kernel) and lets numpy's pairwise sum decide when
    the total is within a hair of the limit; with the limit set at the numpy total, give or
    take a few ulps, it decides as numpy alone would."""
    symbols = [f"S{i}" for i in range(6)]
    market = MarketState(symbols, ["x"] * 6)
    market.on_trades(np.arange(6), np.ones(6, np.int64), np.array(prices))
    engine = Engine(mini_scorer, market, SimClock(10), Recorder())
    strategy = Strategy(StrategyConfig(strategy_id="s"))
    engine.add_strategy(strategy)
    for i, (s, qty) in enumerate(book):
        if qty:
            engine.on_fill(Fill(client_order_id=str(i), strategy_id="s", symbol=symbols[s],
                                qty=qty, price=1.0, ts_event=5))  # fmt: skip
    positions = strategy.ctx.portfolio.positions
    price = market.price("S5")
    now_held = positions.get("S5", 0.0)
    after = (now_held + 1.0) * price
    exposures = np.array([q * market.price(s) for s, q in positions.items()])
    numpy_total = float(np.abs(exposures).sum()) - abs(now_held * price) + abs(after)
    limit = numpy_total + nudge * np.spacing(numpy_total)
    engine.risk = RiskLimits(max_symbol_notional=1e12, max_gross_notional=limit)
    slot = engine._slots["s"]
    intent = OrderIntent(strategy_id="s", news_id="n", symbol="S5", qty=1.0, leg="l", ts_init=10)
    if abs(now_held + 1.0) <= abs(now_held) and (now_held + 1.0) * now_held >= 0:
        return  # a reducing order is never checked
    blocked = bool(engine._risk_check(intent, slot))
    assert blocked == (numpy_total > limit)
    assert book_gross_nb(*slot.exposure_arrays(market)[:2], market.last_price) == (
        reference_book_gross(*(a.tolist() for a in slot.exposure_arrays(market)[:2]),
                             market.last_price.tolist())
    )  # fmt: skip
