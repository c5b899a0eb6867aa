"""The engine loop shared by backtests and the daemon: news → shock → strategies → orders.

Feeds (live or replayed) call `on_news` and `on_trades`, the broker's fills come to `on_fill`, and
the clock fires timers; the engine scores headlines, hands shocks and fills to strategies, passes
their intents through risk checks to the broker, and books fills.

Isolation: a strategy's handler that raises is logged with the strategy's id and the event, and
the strategy is *paused* for `pause_s` seconds of engine time (no new shocks reach it; fills and
timers still do, so it can manage what it holds). After `max_failures` failures it is *broken*
for good: no handler of it runs again until `resume`. The other strategies never notice.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

import numpy as np

from engine.clock import Clock, SimClock
from engine.kernels.ledger_nb import gross_nb
from engine.kernels.watch_nb import CH_EVERY, CH_NEXT, M_NEXT, NEVER, set_next_check_nb
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import Fill, OrderIntent
from engine.scoring import Scorer, Shock
from engine.strategy import Portfolio, Strategy, StrategyContext
from engine.watches import StrategyWatches, WatchBook

log = logging.getLogger(__name__)
_add_reduce = np.add.reduce


def _numpy_gross(
    slots: np.ndarray, shares: np.ndarray, all_tracked: bool, last_price: np.ndarray
) -> float:
    """Gross of a book as numpy sums it (pairwise), from `_Slot.exposure_arrays`."""
    if all_tracked:  # the ufuncs directly: the same sum as below, less Python around it
        return float(_add_reduce(np.abs(np.multiply(shares, last_price.take(slots)))))
    known = slots >= 0  # untracked symbols count as 0, as in `MarketState.gross`
    return float(np.abs(shares[known] * last_price[slots[known]]).sum())


def reference_gross(shares: Sequence[float], last_price: Sequence[float]) -> float:
    """Plain twin of `gross_nb`: the same sum in the same order."""
    total = 0.0
    for q, p in zip(shares, last_price, strict=True):
        total += abs(q * p)
    return total


class Broker(Protocol):
    """Where intents go: the simulated venue or a real (paper) broker."""

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Accept or reject an order."""
        ...


@dataclass(slots=True)
class RiskLimits:
    """Pre-trade checks applied to every intent."""

    max_symbol_notional: float = 250_000.0
    max_gross_notional: float = 2_000_000.0


StrategyState = Literal["running", "paused", "broken"]


@dataclass(slots=True)
class _Slot:
    strategy: Strategy
    portfolio: Portfolio
    watches: StrategyWatches
    failures: int = 0
    paused_until_ns: int = 0
    broken: bool = False
    last_error: str = ""
    # the risk check's view of the book: shares by market slot (0: not held), kept up to date
    # on fills; and the symbols in the order numpy's sum takes them (`exposure_arrays`)
    shares: np.ndarray | None = None
    layout: dict[str, None] | None = None

    def shares_by_slot(self, market: MarketState) -> np.ndarray:
        """Shares held of each market slot (built on first use, then kept by `booked`); fixes
        the layout of `exposure_arrays` if a fill of a new symbol dropped it."""
        if self.shares is None:
            shares = np.zeros(len(market.symbols))
            get = market.slot.get
            for symbol, qty in self.portfolio.positions.items():
                s = get(symbol)
                if s is not None:
                    shares[s] = qty
            self.shares = shares
        if self.layout is None:
            self.layout = dict.fromkeys(self.portfolio.positions)
        return self.shares

    def exposure_arrays(self, market: MarketState) -> tuple[np.ndarray, np.ndarray, bool]:
        """Market slots and shares of the layout's symbols (closed ones at 0 shares), and
        whether every slot is tracked (no -1): the arrays the gross sum has always been taken
        over (the book's symbols when last a new one was booked, in that order)."""
        assert self.layout is not None, "call shares_by_slot first"
        get, position = market.slot.get, self.portfolio.position
        slots = [get(symbol, -1) for symbol in self.layout]
        shares = [position(symbol) for symbol in self.layout]
        return np.array(slots, np.int64), np.array(shares, np.float64), -1 not in slots

    def booked(self, symbol: str, market: MarketState) -> None:
        """A fill changed `symbol`'s position: update its shares (a new symbol: a new layout)."""
        if self.shares is not None:
            s = market.slot.get(symbol)
            if s is not None:  # `Portfolio.position`, inline: this runs on every fill
                self.shares[s] = self.portfolio.positions.get(symbol, 0.0)
        if self.layout is not None and symbol not in self.layout:
            self.layout = None


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """How a registered strategy is doing (for the daemon's status face and logs)."""

    strategy_id: str
    state: StrategyState
    failures: int
    paused_until_ns: int
    last_error: str


@dataclass(slots=True)
class Engine:
    """Runs strategies over scored news and market data on one clock."""

    scorer: Scorer
    market: MarketState
    clock: Clock
    broker: Broker
    risk: RiskLimits = field(default_factory=RiskLimits)
    max_failures: int = 3  # failures after which a strategy is broken for good (0: never)
    pause_s: float = 60.0  # engine-clock seconds a strategy is paused after a failure
    shocks: list[Shock] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)
    blocked: list[tuple[OrderIntent, str]] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _live_timers: list[tuple[int, int, Callable[[int], None]]] = field(default_factory=list)
    _timer_seq: itertools.count[int] = field(default_factory=itertools.count)
    _sim_clock: SimClock | None = field(default=None, init=False, repr=False)
    watches: WatchBook = field(init=False, repr=False)
    _checks_driven: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._sim_clock = self.clock if isinstance(self.clock, SimClock) else None
        self.watches = WatchBook(getattr(self.market, "slot", {}))  # tests may leave it out

    def add_strategy(self, strategy: Strategy, cash: float = 0.0) -> None:
        """Register a strategy and bind its context."""
        sid = strategy.config.strategy_id or type(strategy).__name__
        if sid in self._slots:
            raise ValueError(f"a strategy with id {sid!r} is already registered")
        slot = _Slot(strategy, Portfolio(cash=cash), self.watches.for_strategy(sid))
        self._slots[sid] = slot
        strategy.bind(
            StrategyContext(
                strategy_id=sid,
                clock=self.clock,
                log=logging.LoggerAdapter(logging.getLogger(f"strategy.{sid}"), {"strategy": sid}),
                market=self.market,
                portfolio=slot.portfolio,
                submit_intent=self._on_intent,
                set_timer=partial(self._set_timer, sid),
                add_watch=partial(self._watch, slot),
                remove_watch=slot.watches.unwatch,
                attach_order=slot.watches.attach,
            )
        )

    @property
    def strategy_ids(self) -> list[str]:
        """Ids of the registered strategies, in registration order."""
        return list(self._slots)

    def portfolio(self, strategy_id: str) -> Portfolio:
        """The book of one strategy."""
        return self._slots[strategy_id].portfolio

    def status(self, strategy_id: str) -> StrategyStatus:
        """Running, paused (until when) or broken, with the failure count and last error."""
        slot = self._slots[strategy_id]
        state: StrategyState = "running"
        if slot.broken:
            state = "broken"
        elif slot.paused_until_ns > self.clock.now_ns():
            state = "paused"
        return StrategyStatus(
            strategy_id, state, slot.failures, slot.paused_until_ns, slot.last_error
        )

    def resume(self, strategy_id: str) -> None:
        """Lift a pause or a break by hand (an operator fixed the cause); failures restart at 0."""
        slot = self._slots[strategy_id]
        slot.failures, slot.paused_until_ns, slot.broken = 0, 0, False
        log.warning("strategy %s resumed", strategy_id)

    def save_states(self) -> dict[str, dict[str, Any]]:
        """Every strategy's `on_save()` by id; one that raises is logged and left out."""
        states: dict[str, dict[str, Any]] = {}
        for sid, slot in self._slots.items():
            try:
                states[sid] = dict(slot.strategy.on_save())
            except Exception:  # saving one strategy must not stop saving the others
                log.exception("strategy %s failed on save", sid)
        return states

    def load_state(self, strategy_id: str, state: dict[str, Any]) -> None:
        """Hand a saved state to a registered strategy's `on_load` (call before `start`)."""
        slot = self._slots[strategy_id]
        self._call(strategy_id, slot, "load", None, slot.strategy.on_load, state)

    def start(self) -> None:
        """Call every strategy's `on_start`."""
        for sid, slot in self._slots.items():
            self._call(sid, slot, "start", None, slot.strategy.on_start)

    def stop(self) -> None:
        """Call every strategy's `on_stop`."""
        for sid, slot in self._slots.items():
            self._call(sid, slot, "stop", None, slot.strategy.on_stop)

    def on_news(self, item: NewsItem) -> Shock:
        """Score a headline received now and hand the shock to every strategy."""
        shock = self.scorer.score(item)
        self.shocks.append(shock)
        now = self.clock.now_ns
        for sid, slot in self._slots.items():
            if slot.paused_until_ns > now() or slot.broken:
                continue  # a paused strategy takes no new positions
            try:  # `_call`, inline: one call per shock, fill and timer fewer
                slot.strategy.on_shock(shock)
            except Exception:  # one strategy's bug must not stop the others
                self._failed(sid, slot, "shock", item.id)
        return shock

    def on_trades(
        self,
        symbols: np.ndarray | None,
        ts: np.ndarray,
        price: np.ndarray,
        slots: np.ndarray | None = None,
    ) -> None:
        """Fold a time-sorted trade batch into market state.

        `slots` (from `market.slots_of`) may be passed when the caller mapped symbols already,
        so no Python runs per trade. Fills come from whoever drives the engine: the daemon's
        broker, or the backtest runner (`backtests.tape_venue`), through `on_fill`.
        """
        if slots is None:
            assert symbols is not None, "give symbols or slots"
            slots = self.market.slots_of(symbols.tolist())
        self.market.fold(slots, ts, price, 0, ts.shape[0])

    def on_fill(self, fill: Fill) -> None:
        """Book a fill and tell its strategy."""
        self.fills.append(fill)
        slot = self._slots.get(fill.strategy_id)
        if slot is None:
            log.warning("fill %s for unknown strategy %s", fill.client_order_id, fill.strategy_id)
            return
        slot.portfolio.apply(fill)
        slot.booked(fill.symbol, self.market)
        slot.watches.book_fill(fill.client_order_id, fill.symbol, fill.qty, fill.price)
        if slot.broken:
            return
        try:  # `_call`, inline
            slot.strategy.on_fill(fill)
        except Exception:  # one strategy's bug must not stop the others
            self._failed(fill.strategy_id, slot, "fill", fill.client_order_id)

    def _set_timer(self, sid: str, name: str, ts_ns: int) -> None:
        # called with the time it fires at
        fire: Callable[[int], None] = partial(self._on_timer, sid, self._slots[sid], name)
        if self._sim_clock is not None:
            self._sim_clock.call_at(ts_ns, fire)
        else:
            heapq.heappush(self._live_timers, (ts_ns, next(self._timer_seq), fire))

    def _on_timer(self, sid: str, slot: _Slot, name: str, ts_ns: int) -> None:
        """`_call(sid, slot, "timer", name, on_timer, name, ts_ns)`, inline."""
        if slot.broken:
            return
        try:
            slot.strategy.on_timer(name, ts_ns)
        except Exception:  # one strategy's bug must not stop the others
            self._failed(sid, slot, "timer", name)

    def _watch(
        self, slot: _Slot, key: str, low: float, high: float, every_ns: int,
        held: Mapping[str, tuple[float, float]] | None, per_cost: bool = False,
    ) -> None:  # fmt: skip
        """`ctx.watch`: add the watch; start the strategy's chain of checks if none runs."""
        if every_ns <= 0:
            raise ValueError(f"watch {key!r}: checks need a period above 0 s")
        watches = slot.watches
        watches.watch(key, low, high, held, per_cost)
        if self.watches.chains.item(CH_NEXT, watches.chain) == NEVER:
            self._schedule_check(slot, self.clock.now_ns() + every_ns, every_ns)

    def _schedule_check(self, slot: _Slot, ts_ns: int, every_ns: int) -> None:
        """Set the strategy's next check: a timer on the clock, or, when a driver runs the
        checks (`drive_checks`), only in the chain's row, numbered from the clock's sequence."""
        book, sim, chain = self.watches, self._sim_clock, slot.watches.chain
        if self._checks_driven:
            assert sim is not None
            now, seq = sim.now_ns(), sim.seq
            ts_ns = ts_ns if ts_ns > now else now
            sim.seq = seq + 1
            book.schedule(chain, ts_ns, seq, every_ns)
            set_next_check_nb(book.chains, book.meta)
            return
        fire: Callable[[int], None] = partial(self._check, slot)
        if sim is not None:
            seq = sim.seq
            sim.call_at(ts_ns, fire)
            now = sim.now_ns()
            ts_ns = ts_ns if ts_ns > now else now
        else:
            seq = next(self._timer_seq)
            heapq.heappush(self._live_timers, (ts_ns, seq, fire))
        book.schedule(chain, ts_ns, seq, every_ns)

    def _check(self, slot: _Slot, ts_ns: int) -> None:
        """A check of the strategy's watches is due: tell it of each out of its band, then
        schedule the next check while a watch is left."""
        book, watches = self.watches, slot.watches
        every_ns = book.chains.item(CH_EVERY, watches.chain)
        book.chains[CH_NEXT, watches.chain] = NEVER
        if self._checks_driven:
            set_next_check_nb(book.chains, book.meta)
        if slot.broken:
            return
        for key, pnl in book.failing(watches.chain, self.market.last_price):
            if key not in watches.rows:
                continue  # unwatched by the handler of another watch of this check
            try:
                slot.strategy.on_watch(key, pnl, ts_ns)
            except Exception:  # one strategy's bug must not stop the others
                self._failed(watches.sid, slot, "watch", key)
        if watches.live:
            self._schedule_check(slot, ts_ns + every_ns, every_ns)

    def drive_checks(self) -> None:
        """Hand the watch checks to a driver (the backtest runner; a simulated clock only,
        before any watch): they are no longer timers on the clock; the driver runs those
        that find every watch in its band itself (`market.fold_checked`) and calls
        `run_check` for the others, in their place among the clock's timers (`fire_before`).
        `watches.meta[M_NEXT]` says when the next one is due."""
        if self._sim_clock is None:
            raise ValueError("only checks on a simulated clock can be driven")
        if any(w.live for w in self.watches.strategies):
            raise ValueError("drive_checks comes before any watch")
        self._checks_driven = True
        self.watches.meta[M_NEXT] = NEVER

    def run_check(self, chain: int, ts_ns: int) -> None:
        """The driver's call for a check due now (see `drive_checks`)."""
        self._check(self._slots[self.watches.strategies[chain].sid], ts_ns)

    def next_timer_ns(self) -> int | None:
        """On a live clock, when the next timer is due (None: no timer set)."""
        return self._live_timers[0][0] if self._live_timers else None

    def fire_due_timers(self, until_ns: int | None = None) -> int:
        """On a live clock, run every timer due by now (or by `until_ns`, if earlier); return
        how many. The daemon calls this after each event and on a short tick."""
        fired = 0
        now = self.clock.now_ns() if until_ns is None else min(until_ns, self.clock.now_ns())
        while self._live_timers and self._live_timers[0][0] <= now:
            due, _, fire = heapq.heappop(self._live_timers)
            fire(due)
            fired += 1
        return fired

    def _on_intent(self, intent: OrderIntent) -> None:
        self.intents.append(intent)
        slot = self._slots.get(intent.strategy_id)
        reason = self._risk_check(intent, slot)
        if reason:
            self.blocked.append((intent, reason))
            log.info("blocked %s %s: %s", intent.symbol, intent.client_order_id, reason)
            return
        assert slot is not None  # the risk check found it
        self.broker.submit(intent, slot.portfolio.positions.get(intent.symbol, 0.0))

    def _risk_check(self, intent: OrderIntent, slot: _Slot | None = None) -> str:
        # runs for every order: the market's price and the book's position are read inline
        # (`MarketState.price`, `Portfolio.position`: a missing or non-positive price is none)
        market, symbol = self.market, intent.symbol
        last, s = market.last_price, market.slot.get(symbol)
        price = last.item(s) if s is not None else 0.0
        if not price > 0.0:
            return "no price yet"
        if slot is None:
            slot = self._slots[intent.strategy_id]
        now_held = slot.portfolio.positions.get(symbol, 0.0)
        qty = intent.qty
        if abs(now_held + qty) <= abs(now_held) and (now_held + qty) * now_held >= 0.0:
            return ""  # it only reduces a position: notional limits never stand in an exit's way
        after = (now_held + qty) * price
        if abs(after) > self.risk.max_symbol_notional:
            return f"symbol notional {abs(after):,.0f} over {self.risk.max_symbol_notional:,.0f}"
        limit = self.risk.max_gross_notional
        held = gross_nb(slot.shares_by_slot(market), last)  # a plain sum, by slot
        total = held - abs(now_held * price) + abs(after)
        if abs(total - limit) <= 1e-9 * (held + limit):
            # too close to call: numpy's pairwise sum over the book decides, as it always has
            # (the two sums differ by far less than this margin, so elsewhere they decide alike)
            held = _numpy_gross(*slot.exposure_arrays(market), last)
            total = held - abs(now_held * price) + abs(after)
        if total > limit:
            return f"gross notional over {limit:,.0f}"
        return ""

    def _call(
        self, sid: str, slot: _Slot, kind: str, detail: str | None, handler: Callable[..., None],
        *args: Any,
    ) -> None:  # fmt: skip
        """Run `handler(*args)`, one handler of one strategy; a failure pauses it, repeated
        failures break it. Its description ("timer exit:n1": `kind`, then `detail` unless None)
        is formatted only on a failure.

        A paused strategy still gets fills, timers, start and stop (`on_news` skips its
        shocks); a broken one gets nothing.
        """
        if slot.broken:
            return
        try:
            handler(*args)
        except Exception:  # one strategy's bug must not stop the others
            self._failed(sid, slot, kind, detail)

    def _failed(self, sid: str, slot: _Slot, kind: str, detail: str | None) -> None:
        """Count the failure being handled (call it in the `except` block): pause the strategy,
        or break it after `max_failures`."""
        exc = sys.exc_info()[1]
        what = kind if detail is None else f"{kind} {detail}"
        slot.failures += 1
        slot.last_error = f"{what}: {type(exc).__name__}: {exc}"
        log.exception("strategy %s failed on %s", sid, what)
        if self.max_failures and slot.failures >= self.max_failures:
            slot.broken = True
            log.error(
                "strategy %s broken after %d failures: no handler of it runs until resumed",
                sid,
                slot.failures,
            )
        elif self.pause_s > 0:
            slot.paused_until_ns = self.clock.now_ns() + int(self.pause_s * 1e9)
            log.warning(
                "strategy %s paused for %.0f s after failure %d of %s",
                sid,
                self.pause_s,
                slot.failures,
                self.max_failures or "unlimited",
            )
