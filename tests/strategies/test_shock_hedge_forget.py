"""shock_hedge forgets closed baskets that hold nothing `forget_seconds` after they closed, so a
long-running daemon keeps only recent ones; forgetting changes no trade."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from backtests.data import load_news, load_tape
from backtests.runner import run_backtest
from engine.market import MarketState
from engine.orders import Fill
from engine.runtime import Engine
from engine.scoring import Scorer, Shock
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig
from tests.backtests.test_runner import T0, market, news
from tests.support.engine_parts import ManualClock, RecordingBroker
from tests.support.synth import synth_files

S = 10**9


def news_shock(news_id: str, ts: int) -> Shock:
    """A shock with no leg (a repeat is dropped before its legs are read)."""
    return Shock(news_id=news_id, ts_event=ts, ts_init=ts, headline="", subjects=[], events=[],
                 legs=[])  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return synth_files(
        tmp_path_factory, 11, days=4, symbols=10, headlines_per_day=40,
        trades_per_symbol_per_day=400,
    )  # fmt: skip


def test_forgetting_keeps_only_recent_baskets_and_changes_no_trade(
    synth: tuple[Path, Path], scorer: Scorer
) -> None:
    news_frame, tape = load_news(synth[0]), load_tape(synth[1])
    config = {"strategy_id": "h", "threshold": 0.1}
    keeps = ShockHedge(ShockHedgeConfig(**config))  # the default: a week, longer than the run
    # 20 hours: longer than any order waits for a trade (overnight), shorter than the run
    window = 20 * 3600
    forgets = ShockHedge(ShockHedgeConfig(**config, forget_seconds=window))
    kept_all = run_backtest(news_frame, tape, [keeps], scorer)
    forgot = run_backtest(news_frame, tape, [forgets], scorer)

    assert forgot.fills == kept_all.fills and len(forgot.fills) > 0
    traded = {f.client_order_id for f in forgot.fills}
    assert len(keeps.baskets) == len({i.news_id for i in kept_all.intents})  # none forgotten
    assert len(forgets.baskets) < len(keeps.baskets) // 2
    last_close = max(b.closed_ns for b in forgets.baskets.values())
    # what is left is recent (those due go together, at most an eighth of the window late),
    # open or holding
    for basket in forgets.baskets.values():
        holds = any(abs(q) > 1e-9 for q in basket.qty.values())
        assert not basket.closing or holds or basket.closed_ns > last_close - window * S * 9 // 8
    # the order ids of forgotten baskets went with them
    assert {nid for nid, _ in forgets._orders.values()} <= set(forgets.baskets)
    assert len(forgets._orders) < len(traded)


def test_a_repeated_headline_is_not_traded_again_while_its_basket_is_remembered(
    scorer: Scorer,
) -> None:
    first = news()
    again = first.with_columns(ts_event=pl.lit(T0 + 1200 * S))  # the same id, 20 min later
    both = pl.concat([first, again])
    for forget_s, forgotten in ((3600.0, False), (60.0, True)):
        hedge = ShockHedge(ShockHedgeConfig(strategy_id="h", forget_seconds=forget_s))
        result = run_backtest(both, market(), [hedge], scorer)
        entries = [i for i in result.intents if i.leg == "entry"]
        assert entries and {i.ts_init for i in entries} == {T0 + 2 * S}  # traded once
        # closed at T0 + 2 s + 300 s and flat: gone once the repeat finds it due to go
        assert ("n1" not in hedge.baskets) is forgotten


def test_a_restored_closing_basket_is_forgotten_once_flat_and_its_time_is_up() -> None:
    """A basket saved while closing (an exit not yet filled) comes back with when it closed;
    while it holds shares it stays, once its exit fills it goes at the next close due."""
    clock, market, broker = ManualClock(), MarketState(["A", "B"], ["x", "x"]), RecordingBroker()
    market.last_price[:] = (10.0, 20.0)
    hedge = ShockHedge(ShockHedgeConfig(strategy_id="h", forget_seconds=3600))
    engine = Engine(None, market, clock, broker)  # type: ignore[arg-type]
    engine.add_strategy(hedge)
    closing = {"news_id": "old", "opened_ns": 0, "closing": True, "closed_ns": 300 * S,
               "qty": {"A": 5.0}, "cost": {"A": 50.0}}  # fmt: skip
    opened = {"news_id": "new", "opened_ns": 7000 * S, "closing": False, "qty": {"B": 1.0},
              "cost": {"B": 20.0}}  # fmt: skip
    state = {"version": 1, "baskets": [opened, closing],
             "orders": {"so-exit": ["old", "exit"], "so-entry": ["new", "entry"]}}  # fmt: skip
    clock.t = 7100 * S
    engine.load_state("h", state)
    engine.start()
    hedge.on_timer("exit:new", 7300 * S)  # a close: "old" is due (closed 7,000 s ago) but holds
    assert set(hedge.baskets) == {"old", "new"}
    engine.on_fill(
        Fill(client_order_id="so-exit", strategy_id="h", symbol="A", qty=-5.0, price=10.0,
             ts_event=7400 * S)
    )  # fmt: skip
    clock.t = 8000 * S
    hedge.on_shock(news_shock("new", clock.t))  # a repeat of "new": "old" is looked at again
    assert set(hedge.baskets) == {"old", "new"}  # put back at 7,300 s: due at 10,900 s
    clock.t = 11_000 * S
    hedge.on_shock(news_shock("new", clock.t))
    assert set(hedge.baskets) == {"new"}  # (closed at 7,300 s, it still holds its B share)
    assert {nid for nid, _ in hedge._orders.values()} == {"new"} and "so-exit" not in hedge._orders


def test_baskets_due_are_forgotten_together_at_most_an_eighth_of_the_period_late() -> None:
    """Forgetting is looked for at a close an eighth of `forget_seconds` after the oldest closed
    basket is due, not at every close: one pass drops every basket due by then."""
    clock, market, broker = ManualClock(), MarketState(["A"], ["x"]), RecordingBroker()
    market.last_price[:] = (10.0,)
    hedge = ShockHedge(ShockHedgeConfig(strategy_id="h", forget_seconds=800))  # 100 s late at most
    engine = Engine(None, market, clock, broker)  # type: ignore[arg-type]
    engine.add_strategy(hedge)
    closed = [{"news_id": nid, "opened_ns": 0, "closing": True, "closed_ns": at * S, "qty": {},
               "cost": {}} for nid, at in (("old", 0), ("older", 40))]  # fmt: skip
    opened = [{"news_id": nid, "opened_ns": 0, "closing": False, "qty": {}, "cost": {}}
              for nid in ("n1", "n2", "n3")]  # fmt: skip
    clock.t = 10 * S
    engine.load_state("h", {"version": 1, "baskets": [*closed, *opened], "orders": {}})
    engine.start()
    hedge.on_timer("exit:n1", 850 * S)  # "old" has been due since 800 s: not looked for yet
    assert {"old", "older"} <= set(hedge.baskets)
    hedge.on_timer("exit:n2", 900 * S)  # 800 s + an eighth: both due by now go together
    assert not {"old", "older"} & set(hedge.baskets)
    assert {"n1", "n2", "n3"} <= set(hedge.baskets)  # closed 850 and 900 s: not due yet
