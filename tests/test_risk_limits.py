"""The engine's notional limits block what adds risk, never what takes it off."""

from __future__ import annotations

import numpy as np

from engine.clock import SimClock
from engine.market import MarketState
from engine.orders import Fill, OrderIntent
from engine.runtime import Engine, RiskLimits
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
