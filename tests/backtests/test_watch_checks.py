"""The replay runs watch checks inside its fold of the market; a strategy must see exactly what
plain timers would have shown it: the same stops and take-profits at the same times, so the
same orders, fills and equity."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtests.data import TradeTape, load_news, load_tape
from backtests.runner import BacktestResult, run_backtest
from engine.brokers.sim_venue import SimulatedVenue, VenueSettings
from engine.clock import SimClock
from engine.market import MarketState
from engine.orders import Fill
from engine.runtime import Engine
from engine.scoring import Scorer
from engine.strategy import Strategy, StrategyConfig, StrategyContext
from strategies.fade import Fade, FadeConfig
from strategies.news_momentum import NewsMomentum, NewsMomentumConfig
from strategies.shock_hedge import ShockHedge, ShockHedgeConfig
from tests.support.engine_parts import no_news
from tests.support.synth import synth_files

CHECK = "__check"


class PlainTimerWatches(Strategy):
    """The watch semantics written out in plain Python on ordinary timers (the reference),
    mixed into a strategy in place of the engine's: a chain of "__check" timers started a
    period after a watch is added while none runs, PnL of the fills booked per watch,
    `on_watch` for each watch out of its band in the order they were added, the next check
    while a watch is left."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.bands: dict[str, tuple[float, float, bool]] = {}
        self.books: dict[str, dict[str, list[float]]] = {}  # key -> symbol -> [qty, cost]
        self.owner: dict[str, str] = {}  # order id -> key
        self.every_ns = 0
        self.running = False

    def bind(self, ctx: StrategyContext) -> None:
        ctx.add_watch = self._add
        ctx.remove_watch = self._remove
        ctx.attach_order = self._attach
        super().bind(ctx)

    def _add(
        self, key: str, low: float, high: float, every_ns: int,
        held: Mapping[str, tuple[float, float]] | None, per_cost: bool = False,
    ) -> None:  # fmt: skip
        self.bands[key] = (low, high, per_cost)
        self.books[key] = {s: [q, c] for s, (q, c) in (held or {}).items()}
        if not self.running:
            self.running, self.every_ns = True, every_ns
            self.ctx.set_timer(CHECK, self.ctx.clock.now_ns() + every_ns)

    def _remove(self, key: str) -> None:
        self.bands.pop(key, None)
        self.books.pop(key, None)

    def _attach(self, order_id: str, key: str) -> None:
        self.owner[order_id] = key

    def on_fill(self, fill: Fill) -> None:
        book = self.books.get(self.owner.get(fill.client_order_id, ""))
        if book is not None:
            held = book.setdefault(fill.symbol, [0.0, 0.0])
            held[0] += fill.qty
            held[1] += fill.qty * fill.price
        super().on_fill(fill)

    def on_timer(self, name: str, ts_ns: int) -> None:
        if name != CHECK:
            super().on_timer(name, ts_ns)
            return
        self.running = False
        price = self.ctx.market.price
        for key in list(self.bands):
            book = self.books.get(key)
            if not book:
                continue
            pnl = sum([q * price(s) - c for s, (q, c) in book.items()])
            low, high, per_cost = self.bands[key]
            if per_cost:
                scale = 0.0
                for _, cost in book.values():
                    scale += abs(cost)
                low, high = low * scale, high * scale
            if pnl <= low or pnl >= high:
                self.on_watch(key, pnl, ts_ns)
        if self.bands:
            self.running = True
            self.ctx.set_timer(CHECK, ts_ns + self.every_ns)


class TimerWatched(PlainTimerWatches, ShockHedge):
    """`shock_hedge` on the plain-Python watches."""


class TimerWatchedMomentum(PlainTimerWatches, NewsMomentum):
    """`news_momentum` on the plain-Python watches."""


class TimerWatchedFade(PlainTimerWatches, Fade):
    """`fade` on the plain-Python watches."""


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return synth_files(
        tmp_path_factory, 3, days=2, symbols=10, headlines_per_day=40,
        trades_per_symbol_per_day=3000,
    )  # fmt: skip


def _run(synth: tuple[Path, Path], scorer: Scorer, cls: type, **settings: Any) -> BacktestResult:
    config = ShockHedgeConfig(strategy_id="h", threshold=0.1, **settings)
    news, tape = load_news(synth[0]), load_tape(synth[1])
    return run_backtest(news, tape, [cls(config)], scorer)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "settings",
    [
        # stops and take-profits often; the 300 s exits fall on every fifth check
        {"stop_loss": 0.002, "take_profit": 0.003, "check_seconds": 60.0},
        # checks due at the same times as exits (a basket's second check and its exit), and
        # in between
        {"stop_loss": 0.001, "take_profit": 0.002, "check_seconds": 20.0, "hold_seconds": 60.0},
        {"stop_loss": 0.001, "take_profit": 0.0015, "check_seconds": 7.0, "hold_seconds": 63.0},
    ],
)
def test_checks_in_the_fold_act_as_plain_timers_would(
    synth: tuple[Path, Path], scorer: Scorer, settings: dict[str, float]
) -> None:
    watched = _run(synth, scorer, ShockHedge, **settings)
    reference = _run(synth, scorer, TimerWatched, **settings)
    legs = {intent.leg for intent in watched.intents}
    assert {"exit-stop", "exit-take", "exit-time"} <= legs  # every exit happens
    assert watched.intents == reference.intents
    assert watched.fills == reference.fills
    assert watched.equity.equals(reference.equity)
    assert watched.blocked == reference.blocked


@pytest.mark.parametrize(
    ("watched_cls", "reference_cls", "config_cls", "exits"),
    [
        (NewsMomentum, TimerWatchedMomentum, NewsMomentumConfig, {"exit-stop", "exit-time"}),
        (Fade, TimerWatchedFade, FadeConfig, {"exit-stop", "exit-time"}),
    ],
)
def test_single_leg_stops_per_dollar_of_cost_act_as_plain_timers_would(
    synth: tuple[Path, Path], scorer: Scorer, watched_cls: type, reference_cls: type,
    config_cls: type, exits: set[str],
) -> None:  # fmt: skip
    """`news_momentum` and `fade` watch each position with a band per dollar of its cost."""
    news, tape = load_news(synth[0]), load_tape(synth[1])
    runs = []
    for cls in (watched_cls, reference_cls):
        config = config_cls(strategy_id="s", stop_loss=0.0015, check_seconds=20.0)
        runs.append(run_backtest(news, tape, [cls(config)], scorer))
    watched, reference = runs
    assert exits <= {intent.leg for intent in watched.intents}
    assert watched.intents == reference.intents
    assert watched.fills == reference.fills
    assert watched.equity.equals(reference.equity)


def test_a_watch_never_fires_before_it_holds_anything_priced(
    synth: tuple[Path, Path], scorer: Scorer
) -> None:
    # a band that any PnL leaves: every check closes what has filled, nothing else
    result = _run(synth, scorer, ShockHedge, stop_loss=-1e-9, take_profit=1e-9, check_seconds=5.0)
    first_fill = {}
    for fill in result.fills:
        first_fill.setdefault(fill.client_order_id, fill.ts_event)
    entries = {i.client_order_id: i for i in result.intents if i.leg == "entry"}
    for intent in result.intents:
        if intent.leg in ("exit-stop", "exit-take"):
            filled = [
                ts for cid, ts in first_fill.items()
                if cid in entries and entries[cid].news_id == intent.news_id
            ]  # fmt: skip
            assert filled and min(filled) <= intent.ts_init
    assert not math.isnan(result.equity["equity"].sum())


class _Ordered(Strategy):
    """Buys A on a watch whose band any PnL leaves (a check always fires once it holds A);
    records the order in which its handlers run."""

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, int]] = []

    def on_start(self) -> None:
        self.ctx.set_timer("buy", 2)  # once A has a price

    def on_timer(self, name: str, ts_ns: int) -> None:
        self.calls.append((name, ts_ns))
        if name == "buy":
            self.ctx.set_timer("set-before", 22)  # due with the first check, set before it
            self.ctx.watch("w", low=-2e18, high=-1e18, every_s=20e-9)  # checks at 22, 42, ...
            self.ctx.submit("n", "A", 1, "entry", watch="w")  # fills at 5
            self.ctx.set_timer("set-after", 22)  # due with the first check, set after it
        if name == "set-after":
            self.ctx.set_timer("late", 42)  # set after the check due at 42 was

    def on_watch(self, key: str, pnl: float, ts_ns: int) -> None:
        self.calls.append((f"watch {key}", ts_ns))
        if ts_ns >= 62:
            self.ctx.unwatch(key)


EXPECTED = [
    ("buy", 2), ("set-before", 22), ("watch w", 22), ("set-after", 22),
    ("watch w", 42), ("late", 42), ("watch w", 62),
]  # fmt: skip


def _tape() -> TradeTape:
    return TradeTape(
        ts=np.arange(0, 100, 5, dtype=np.int64),
        slot=np.zeros(20, np.int32),
        price=np.linspace(10.0, 11.0, 20),
        symbols=["A"],
    )


def test_a_check_runs_in_its_place_among_timers_due_at_its_time(scorer: Scorer) -> None:
    spy = _Ordered(StrategyConfig(strategy_id="s"))
    run_backtest(no_news(), _tape(), [spy], scorer, venue=VenueSettings(latency_ns=1))
    # the check at 22 (set between the two timers) fires between them; the one at 42 was set
    # at 22 by the chain, before "late"; the chain ends after the check at 62
    assert spy.calls == EXPECTED


def test_checks_on_a_simulated_clock_without_the_runner_are_timers(scorer: Scorer) -> None:
    """The engine alone (no driver): the checks are timers on the clock, in the same order."""
    tape = _tape()
    market = MarketState(["A"], ["tech"])
    clock = SimClock(0)
    engine = Engine(scorer, market, clock, SimulatedVenue(VenueSettings(latency_ns=1)))
    spy = _Ordered(StrategyConfig(strategy_id="s"))
    engine.add_strategy(spy)
    engine.start()
    venue = engine.broker
    assert isinstance(venue, SimulatedVenue)
    for k in range(len(tape.ts)):
        clock.advance_to(int(tape.ts[k]))  # timers due by the trade's time first
        ts, price = tape.ts[k : k + 1], tape.price[k : k + 1]
        engine.on_trades(None, ts, price, tape.slot[k : k + 1].astype(np.int64))
        for fill in venue.on_trades(np.array(["A"]), ts, price):
            engine.on_fill(fill)
    assert spy.calls == EXPECTED
