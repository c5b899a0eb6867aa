"""Watches on a live clock (the daemon's path) and in a strategy's hands: what they book, when
they fire, what they refuse, and how a restored basket gets its watch back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.kernels.watch_nb import M_ENTRIES
from engine.market import MarketState
from engine.orders import Fill, OrderIntent
from engine.runtime import Engine
from engine.strategy import Strategy, StrategyConfig
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig
from tests.support.engine_parts import ManualClock, RecordingBroker

S = 1_000_000_000


class Watcher(Strategy):
    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.heard: list[tuple[str, float, int]] = []

    def on_watch(self, key: str, pnl: float, ts_ns: int) -> None:
        self.heard.append((key, pnl, ts_ns))


def _engine() -> tuple[Engine, ManualClock, MarketState, RecordingBroker, Watcher]:
    clock, market, broker = (
        ManualClock(),
        MarketState(["A", "B"], ["tech", "tech"]),
        RecordingBroker(),
    )
    engine = Engine(None, market, clock, broker)  # type: ignore[arg-type]
    watcher = Watcher(StrategyConfig(strategy_id="w"))
    engine.add_strategy(watcher)
    engine.start()
    return engine, clock, market, broker, watcher


def _trade(market: MarketState, slot: int, ts: int, price: float) -> None:
    market.on_trades(np.array([slot]), np.array([ts], np.int64), np.array([price]))


def _fill(intent: OrderIntent, price: float, ts: int) -> Fill:
    return Fill(
        client_order_id=intent.client_order_id, strategy_id=intent.strategy_id,
        symbol=intent.symbol, qty=intent.qty, price=price, ts_event=ts,
    )  # fmt: skip


def test_a_live_watch_fires_when_its_pnl_leaves_the_band_and_its_chain_ends() -> None:
    engine, clock, market, broker, watcher = _engine()
    _trade(market, 0, 0, 10.0)
    _trade(market, 1, 0, 20.0)
    ctx = watcher.ctx
    ctx.watch("n1", low=-50.0, high=100.0, every_s=10)
    a = ctx.submit("n1", "A", 10, "entry", watch="n1")
    b = ctx.submit("n1", "B", -5, "entry", watch="n1")
    other = ctx.submit("n2", "A", 100, "entry")  # not watched: never counts
    assert broker.sent == [a, b, other]
    engine.on_fill(_fill(a, 10.0, 1))
    engine.on_fill(_fill(other, 10.0, 1))
    clock.t = 10 * S
    assert engine.fire_due_timers() == 1 and watcher.heard == []  # PnL 0: in the band
    engine.on_fill(_fill(b, 20.0, 11 * S))
    _trade(market, 0, 12 * S, 14.0)  # A +4 * 10 shares; B flat
    clock.t = 20 * S
    engine.fire_due_timers()
    assert watcher.heard == []  # +40: in the band
    _trade(market, 0, 25 * S, 20.0)  # +100: at the high
    clock.t = 30 * S
    engine.fire_due_timers()
    assert watcher.heard == [("n1", 100.0, 30 * S)]
    _trade(market, 1, 35 * S, 40.0)  # B -5 * +20 = -100; A +100: PnL 0
    clock.t = 40 * S
    engine.fire_due_timers()
    assert len(watcher.heard) == 1
    ctx.unwatch("n1")
    engine.on_fill(_fill(a, 99.0, 41 * S))  # after the unwatch: not booked, no error
    clock.t = 50 * S
    assert engine.fire_due_timers() == 1  # the check that finds no watch ends the chain
    assert engine.next_timer_ns() is None
    ctx.watch("n3", low=-1.0, high=1.0, every_s=5)  # a new chain from now
    assert engine.next_timer_ns() == 55 * S


def test_nothing_filled_or_no_price_never_fires() -> None:
    engine, clock, market, _, watcher = _engine()
    _trade(market, 0, 0, 10.0)
    ctx = watcher.ctx
    ctx.watch("empty", low=-1e-9, high=1e-9, every_s=1)
    ctx.watch("unpriced", low=-1e-9, high=1e-9, every_s=1)
    b = ctx.submit("x", "B", 1, "entry", watch="unpriced")  # B has no trade yet
    engine.on_fill(_fill(b, 20.0, 0))
    clock.t = 3 * S
    engine.fire_due_timers()
    assert watcher.heard == []
    _trade(market, 1, 3 * S, 21.0)
    clock.t = 4 * S
    engine.fire_due_timers()
    assert watcher.heard == [("unpriced", 1.0, 4 * S)]


def test_watch_mistakes_are_refused_with_what_to_fix() -> None:
    _, _, _, _, watcher = _engine()
    ctx = watcher.ctx
    with pytest.raises(ValueError, match=r"no watch 'nope' for strategy 'w': call ctx\.watch"):
        ctx.submit("n", "A", 1, "entry", watch="nope")
    ctx.watch("k", low=-1.0, high=1.0, every_s=1)
    with pytest.raises(ValueError, match=r"watch 'k' of strategy 'w' already exists"):
        ctx.watch("k", low=-1.0, high=1.0, every_s=1)
    with pytest.raises(ValueError, match=r"a period above 0 s"):
        ctx.watch("k3", low=-1.0, high=1.0, every_s=0)
    ctx.unwatch("never-watched")  # ignored


def test_a_restored_basket_is_watched_with_what_it_holds() -> None:
    clock, market, broker = (
        ManualClock(),
        MarketState(["A", "B"], ["tech", "tech"]),
        RecordingBroker(),
    )
    _trade(market, 0, 0, 10.0)
    _trade(market, 1, 0, 20.0)
    config = ShockHedgeConfig(strategy_id="h", stop_loss=0.001, check_seconds=60)
    saved = {
        "version": 1,
        "baskets": [
            {"news_id": "n1", "opened_ns": 0, "closing": False,
             "qty": {"A": 100.0, "B": -50.0}, "cost": {"A": 1000.0, "B": -1000.0}},
        ],
        "orders": {"so-late": ["n1", "entry"]},
    }  # fmt: skip
    engine = Engine(None, market, clock, broker)  # type: ignore[arg-type]
    hedge = ShockHedge(config)
    engine.add_strategy(hedge)
    engine.load_state("h", saved)
    engine.start()
    engine.on_fill(
        Fill(client_order_id="so-late", strategy_id="h", symbol="A", qty=10, price=10.0, ts_event=1)
    )  # fmt: skip  (a fill of a saved order still counts toward its basket's watch)
    _trade(market, 0, 30 * S, 9.0)  # 110 A shares lose 110 > the 100 stop
    clock.t = 60 * S
    engine.fire_due_timers()
    exits = [i for i in broker.sent if i.leg == "exit-stop"]
    assert sorted((i.symbol, i.qty) for i in exits) == [("A", -110.0), ("B", 50.0)]
    assert not math.isnan(hedge.basket_pnl(hedge.baskets["n1"]))


def test_a_zero_stop_and_take_profit_close_at_the_first_check() -> None:
    """shock_hedge with stop_loss = take_profit = 0: a band of [-0, 0] that any PnL leaves."""
    clock, market, broker = ManualClock(), MarketState(["A"], ["tech"]), RecordingBroker()
    _trade(market, 0, 0, 10.0)
    engine = Engine(None, market, clock, broker)  # type: ignore[arg-type]
    config = ShockHedgeConfig(strategy_id="h", stop_loss=0.0, take_profit=0.0, check_seconds=1)
    engine.add_strategy(ShockHedge(config))
    basket = {"news_id": "n", "opened_ns": 0, "closing": False, "qty": {"A": 10.0},
              "cost": {"A": 100.0}}  # fmt: skip
    engine.load_state("h", {"version": 1, "baskets": [basket], "orders": {}})
    engine.start()
    clock.t = S
    engine.fire_due_timers()
    assert [(i.leg, i.qty) for i in broker.sent] == [("exit-stop", -10.0)]  # PnL 0 <= -0


def test_a_daemon_that_watches_for_long_reuses_its_entries_and_marks_them_right() -> None:
    """Watches come and go (one to three symbols each, two at a time); new entries reuse those
    of unwatched watches, starting from no shares and no cost, so the book's columns stop
    growing while every check still marks each watch at what it alone holds."""
    engine, clock, market, _, watcher = _engine()
    ctx, book = watcher.ctx, engine.watches
    symbols = ["A", "B", "A"]  # a watch may fill one symbol twice: still one entry
    t = 0
    for cycle in range(300):
        t += 10 * S
        price = {"A": 10.0 + cycle % 7, "B": 20.0 + cycle % 5}
        _trade(market, 0, t, price["A"])
        _trade(market, 1, t, price["B"])
        expected = {}
        for key, legs in ((f"x{cycle}", 1 + cycle % 3), (f"y{cycle}", 1 + (cycle + 1) % 3)):
            ctx.watch(key, low=0.0, high=0.0, every_s=5)  # a band every PnL leaves
            pnl = 0.0
            for leg, symbol in enumerate(symbols[:legs]):
                qty = float(cycle % 4 + leg + 1)
                intent = ctx.submit(key, symbol, qty, f"entry{leg}", watch=key)
                engine.on_fill(_fill(intent, price[symbol] - 1.0, t))
                pnl += qty * 1.0  # bought a dollar under the last price
            expected[key] = pnl
        watcher.heard.clear()
        clock.t = t + 5 * S
        engine.fire_due_timers()
        assert {key: pnl for key, pnl, _ in watcher.heard} == pytest.approx(expected)
        for key in expected:
            ctx.unwatch(key)
        clock.t = t + 10 * S
        engine.fire_due_timers()  # the check that finds none ends the chain
    assert book.m[M_ENTRIES] <= 4  # two watches at a time, two entries each at most
    assert book.wf.shape[1] == 64  # never grown
