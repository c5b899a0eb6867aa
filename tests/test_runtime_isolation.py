"""A failing strategy is paused, then broken after repeated failures; the others keep trading.
Strategy state survives a restart through the journal."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest

from backtests.runner import run_backtest
from engine.clock import SimClock
from engine.journal import Journal
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import OrderIntent
from engine.runtime import Engine
from engine.scoring import Scorer, Shock
from engine.strategy import Strategy, StrategyConfig
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig
from tests.backtests.test_runner import HEADLINE, T0, market, news
from tests.plugin_helpers import fake_dist, spillover_with

S = 10**9


class NullBroker:
    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        return True


class Counter(Strategy):
    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.shocks = 0
        self.timers: list[str] = []

    def on_shock(self, shock: Shock) -> None:
        self.shocks += 1

    def on_timer(self, name: str, ts_ns: int) -> None:
        self.timers.append(name)


class Flaky(Counter):
    def on_shock(self, shock: Shock) -> None:
        self.shocks += 1
        self.ctx.set_timer(f"t{self.shocks}", self.ctx.clock.now_ns() + 5 * S)
        raise ValueError("bad plugin")


def test_a_failure_pauses_a_strategy_and_repeated_failures_break_it(
    scorer: Scorer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SimClock(0)
    engine = Engine(scorer, MarketState(["META"], ["tech"]), clock, NullBroker(), pause_s=60)
    flaky, other = (
        Flaky(StrategyConfig(strategy_id="flaky")),
        Counter(StrategyConfig(strategy_id="ok")),
    )
    engine.add_strategy(flaky)
    engine.add_strategy(other)

    def headline_at(t: int) -> None:
        clock.advance_to(t * S)
        engine.on_news(NewsItem(id=f"n{t}", headline=HEADLINE, ts_event=t * S, ts_init=t * S))

    with caplog.at_level(logging.WARNING):
        headline_at(1)
    assert "strategy flaky failed on shock n1" in caplog.text
    assert engine.status("flaky").state == "paused"
    headline_at(30)  # paused: no new shocks, but its timer still fires
    assert flaky.shocks == 1 and flaky.timers == ["t1"]
    headline_at(62)  # the pause is over: tried again, fails again
    assert flaky.shocks == 2 and engine.status("flaky").failures == 2
    headline_at(200)
    status = engine.status("flaky")
    assert status.state == "broken" and "ValueError: bad plugin" in status.last_error
    headline_at(300)
    clock.advance_to(400 * S)
    assert flaky.shocks == 3 and "t3" not in flaky.timers  # broken: nothing reaches it
    assert other.shocks == 5 and engine.status("ok").state == "running"
    engine.resume("flaky")
    headline_at(500)
    assert flaky.shocks == 4 and engine.status("flaky").failures == 1


def test_pause_and_break_are_configurable(scorer: Scorer) -> None:
    clock = SimClock(0)
    engine = Engine(
        scorer, MarketState(["META"], ["tech"]), clock, NullBroker(), pause_s=0, max_failures=0
    )
    flaky = Flaky(StrategyConfig(strategy_id="flaky"))
    engine.add_strategy(flaky)
    for t in range(1, 6):
        clock.advance_to(t * S)
        engine.on_news(NewsItem(id=f"n{t}", headline=HEADLINE, ts_event=t * S, ts_init=t * S))
    assert flaky.shocks == 5 and engine.status("flaky").state == "running"


RAISING_PLUGIN = """
from engine.strategy import Strategy

class Raising(Strategy):
    def on_shock(self, shock):
        raise RuntimeError("handler bug")
"""


def test_a_raising_plugin_and_an_unimportable_one_do_not_stop_the_others(tmp_path: Path) -> None:
    site = fake_dist(
        tmp_path / "site",
        "bad_plugins",
        {"raising": "bad_raising:Raising", "unimportable": "bad_import:Thing"},
        {"bad_raising": RAISING_PLUGIN, "bad_import": "import no_such_dependency_xyz\n"},
    )
    synth = tmp_path / "synth"
    synth.mkdir()
    news().write_parquet(synth / "news.parquet")
    market().write_parquet(synth / "trades.parquet")
    res = spillover_with(
        site, "backtest", "--news", str(synth / "news.parquet"), "--market",
        str(synth / "trades.parquet"), "--out", str(tmp_path / "bt"),
        "--strategy", "raising", "--strategy", "shock_hedge",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "strategy raising failed on shock" in res.stderr
    trades = pl.read_parquet(tmp_path / "bt" / "trades.parquet")
    assert set(trades["strategy_id"]) == {"shock_hedge"}
    listed = spillover_with(site, "strategies", "list")
    assert "unimportable" in listed.stdout and "no_such_dependency_xyz" in listed.stdout
    bad = spillover_with(
        site, "backtest", "--news", str(synth / "news.parquet"), "--market",
        str(synth / "trades.parquet"), "--out", str(tmp_path / "bt2"), "--strategy", "unimportable",
    )  # fmt: skip
    assert bad.returncode == 2 and "StrategyLoadError" in bad.stderr
    assert "unimportable" in bad.stderr and "Traceback" not in bad.stderr


class Restored(ShockHedge):
    state: ClassVar[dict[str, Any]] = {}

    def on_start(self) -> None:  # stands in for the daemon calling engine.load_state
        self.on_load(self.state)


def test_shock_hedge_baskets_survive_a_restart_through_the_journal(
    scorer: Scorer, tmp_path: Path
) -> None:
    cfg = ShockHedgeConfig(strategy_id="hedge", hold_seconds=600, take_profit=1.0, stop_loss=1.0)
    before = ShockHedge(cfg)
    cut = T0 + 60 * S  # the daemon stops a minute after the headline, the basket still open
    trades = market()
    run_backtest(news(), trades.filter(pl.col("ts") < cut), [before], scorer)
    saved = before.on_save()
    assert [b["news_id"] for b in saved["baskets"]] == ["n1"]
    held = saved["baskets"][0]["qty"]
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.save_strategy_state("hedge", saved, cut)
    with Journal(tmp_path / "j.sqlite") as journal:
        loaded = journal.load_strategy_state("hedge")
        assert journal.load_strategy_state("other") is None
    assert loaded == saved
    Restored.state = loaded
    after = Restored(cfg)
    quiet = news().with_columns(
        id=pl.lit("n2"), headline=pl.lit("Weather is mild today"), ts_event=pl.lit(cut + S)
    )  # (the runner starts its clock at the first headline: give it one that moves nothing)
    result = run_backtest(quiet, trades.filter(pl.col("ts") >= cut), [after], scorer)
    exits = {f.symbol: f.qty for f in result.fills}
    assert exits == {s: -q for s, q in held.items()}  # closed at the original holding time
    assert min(f.ts_event for f in result.fills) >= T0 + 2 * S + 600 * S


def test_engine_save_states_skips_a_strategy_whose_save_raises(scorer: Scorer) -> None:
    class BadSave(Counter):
        def on_save(self) -> dict[str, object]:
            raise RuntimeError("cannot save")

    engine = Engine(scorer, MarketState(["META"], ["tech"]), SimClock(0), NullBroker())
    engine.add_strategy(BadSave(StrategyConfig(strategy_id="bad")))
    engine.add_strategy(ShockHedge(ShockHedgeConfig(strategy_id="hedge")))
    states = engine.save_states()
    assert set(states) == {"hedge"} and states["hedge"]["baskets"] == []
    engine.load_state("hedge", states["hedge"])
