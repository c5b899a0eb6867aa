"""The daemon's core: feeds in, the engine in the middle, risk, journal and a broker out.

`LiveNode` is the `FeedSink` of every feed, the `OrderEvents` of its broker and the
`StatusSource` of the HTTP face. A headline is journaled on receipt, before it is scored; it is
scored and handed to the strategies in the same call; their orders pass the engine's notional
limits and the `RiskManager`, are journaled with their client order ids, and only then reach the
broker — so after a crash nothing is acted on or sent twice. Trades are folded into market state
batch by batch, and the simulated broker fills against them.

    async with LiveNode(...) as node:
        await node.run(stop_event)
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
from aiohttp import web

from engine.brokers.base import TERMINAL_STATES, LiveBroker
from engine.clock import Clock, LiveClock
from engine.errors import SpilloverError
from engine.feeds.base import Feed, TradeBatch
from engine.feeds.dead_letters import DeadLetterFile
from engine.http_status import DaemonMetrics, make_app
from engine.journal import Journal
from engine.live.recovery import open_orders_with_fills, reconcile, restore_book
from engine.live.status import Counters, OrderView, vars_of
from engine.live.warm import Rehearsal
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import Fill, OrderIntent
from engine.risk import RiskManager, RiskSettings
from engine.runtime import Engine, RiskLimits
from engine.scoring import Scorer, Shock
from engine.settings import Settings
from engine.strategy import Strategy

log = logging.getLogger(__name__)

NS = 1_000_000_000
KEEP_RECENT = 50
SAMPLE_EVERY_NS = 60 * NS
CHECKPOINT_EVERY_S = 10.0


def resolve_risk(settings: RiskSettings, broker_kind: str) -> RiskSettings:
    """Market hours 'auto': enforced for Alpaca, off for the simulated broker."""
    if settings.market_hours != "auto":
        return settings
    hours = "enforce" if broker_kind == "alpaca" else "off"
    return settings.model_copy(update={"market_hours": hours})


class LiveNode:
    """One daemon: strategies trading live feeds through one broker."""

    def __init__(
        self,
        settings: Settings,
        scorer: Scorer,
        strategies: Sequence[tuple[Strategy, float]],
        feeds: Sequence[Feed],
        broker: LiveBroker,
        journal: Journal,
        *,
        clock: Clock | None = None,
        dead_letters: DeadLetterFile | None = None,
        metrics: DaemonMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or LiveClock()
        self.scorer = scorer
        self.feeds = list(feeds)
        self.broker = broker
        self.journal = journal
        self.dead_letters = dead_letters
        self.metrics = metrics or DaemonMetrics()
        self.risk = RiskManager(resolve_risk(settings.risk, settings.broker.kind), self.clock)
        companies = scorer.universe.companies
        symbols = [c.symbol for c in companies]
        sectors = [c.sector for c in companies]
        extra = {*settings.daemon.extra_symbols}
        extra |= {str(getattr(s.config, "hedge_symbol", "")) for s, _ in strategies}
        for symbol in sorted(extra - set(symbols) - {""}):
            symbols.append(symbol)
            sectors.append("index")
        self.market = MarketState(symbols, sectors)
        limits = RiskLimits(
            max_symbol_notional=settings.broker.max_symbol_notional,
            max_gross_notional=settings.broker.max_gross_notional,
        )
        self.engine = Engine(
            scorer, self.market, self.clock, _Guard(self), limits,
            max_failures=settings.daemon.strategy_max_failures,
            pause_s=settings.daemon.strategy_pause_s,
        )  # fmt: skip
        self.cash: dict[str, float] = {}
        for strategy, cash in strategies:
            self.engine.add_strategy(strategy, cash=cash)
            self.cash[self.engine.strategy_ids[-1]] = cash
        self.journal.defer_writes()
        # A broker outside this process must never see an order the journal could lose; the
        # simulator lives and dies with the process, so its orders commit with the event.
        self._durable_orders = getattr(broker, "durable_orders", True)
        self._news_in = self.metrics.messages_in.labels("news")
        self._trades_in = self.metrics.messages_in.labels("trades")
        self._order_state: dict[str, Any] = {}
        self.counters = Counters()
        self.orders: dict[str, OrderView] = {}  # open orders by client order id
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP_RECENT)
        self.connected: dict[str, bool] = {f.name: False for f in self.feeds}
        self.last_lag_s: dict[str, float] = {}
        self.reconcile: dict[str, dict[str, float]] = {}
        self.started_ns = 0
        self.http_url = ""
        self._receipt_ns = 0
        self._day_start_equity = 0.0
        self._halt_handled = False
        self._last_sample = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: web.AppRunner | None = None
        self.rehearsal = Rehearsal(
            scorer, journal, self.market, self.clock, [s for s, _ in strategies], limits,
            self.risk.settings,
        )  # fmt: skip
        self._last_news_mono = 0.0
        self._warm_wake: asyncio.Future[bool] | None = None

    # ---- start and stop -------------------------------------------------------------------

    async def __aenter__(self) -> LiveNode:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Rebuild state from the journal and the broker, start strategies and the HTTP face."""
        self.started_ns = self.clock.now_ns()
        snapshot = await self.broker.start(self)
        for sid in self.engine.strategy_ids:
            restore_book(self.journal, sid, self.engine.portfolio(sid), self.cash[sid])
        for row in self.journal.open_orders():
            self.orders[row["client_order_id"]] = OrderView(
                row["client_order_id"], row["strategy_id"], row["news_id"], row["symbol"],
                row["qty"], row["status"],
            )  # fmt: skip
        for sid in self.engine.strategy_ids:  # before any fill of a resumed order reaches it
            saved = self.journal.load_strategy_state(sid)
            if saved is not None:
                self.engine.load_state(sid, saved)  # open baskets, their exit timers
        if self.orders:
            log.info("following up %d orders left open by the last run", len(self.orders))
            await self.broker.resume(open_orders_with_fills(self.journal))
        if self.broker.name != "sim":  # the simulator holds nothing of its own to compare
            books = [self.engine.portfolio(sid) for sid in self.engine.strategy_ids]
            self.reconcile = reconcile(books, snapshot)
        self._day_start_equity = self.equity()
        self.engine.start()
        gc.freeze()  # the universe, kernels and strategies live forever: keep them out of GC passes
        if self.settings.http.enabled:
            await self._start_http()

    async def run(self, stop: asyncio.Event) -> None:
        """Run the feeds until `stop` is set or every feed has ended; then stop cleanly."""
        feed_tasks = [asyncio.create_task(f.run(self), name=f"feed:{f.name}") for f in self.feeds]
        housekeeping = [asyncio.create_task(self._tick(), name="ticker")]
        if self.keeps_warm:
            housekeeping.append(asyncio.create_task(self._keep_warm(), name="keep-warm"))
        stopper = asyncio.create_task(stop.wait(), name="stop")
        fatal: BaseException | None = None
        try:
            pending: set[asyncio.Task[Any]] = {*feed_tasks, stopper}
            while not stopper.done() and fatal is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = None if task is stopper else task.exception()
                    if isinstance(exc, SpilloverError):  # a setting to fix (keys, topics): stop
                        fatal = exc
                    elif exc is not None:
                        log.error("feed task %s failed: %r", task.get_name(), exc)
                if not (pending - {stopper}):
                    log.info("every feed has ended")
                    break
        finally:
            for task in (*feed_tasks, *housekeeping, stopper):
                task.cancel()
            await asyncio.gather(*feed_tasks, *housekeeping, stopper, return_exceptions=True)
            self.engine.fire_due_timers()
        if fatal is not None:
            raise fatal

    async def close(self) -> None:
        """Stop strategies, let the broker finish in-flight calls, flush the journal."""
        self.engine.stop()
        self._save_states()
        timeout = self.settings.daemon.shutdown_timeout_s
        try:
            await asyncio.wait_for(self.broker.aclose(), timeout)
        except TimeoutError:
            log.warning("the broker did not finish in %.1f s; orders stay journaled", timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.cleanup()
        if self.dead_letters is not None:
            self.dead_letters.close()
        self.journal.close()

    async def _start_http(self) -> None:
        token = self.settings.http.kill_token
        app = make_app(self, self.metrics, kill_token=token.get_secret_value() if token else None)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, self.settings.http.host, self.settings.http.port)
        await site.start()
        host, port = self._http.addresses[0][:2]
        self.http_url = f"http://{host}:{port}"
        log.info("status on %s (/healthz, /metrics, /api/state)", self.http_url)

    # ---- FeedSink ------------------------------------------------------------------------

    def news(self, item: NewsItem) -> None:
        """Journal, score and trade one headline."""
        self._receipt_ns = item.ts_init if isinstance(self.clock, LiveClock) else time.time_ns()
        self._last_news_mono = time.monotonic()
        self._news_in.inc()
        self.counters.news += 1
        self.journal.begin()  # committed before the first order goes out, or at the end
        if not self.journal.record_news(item):
            self.journal.flush()
            self.counters.duplicate_news += 1
            log.info("news %s seen before: not acted on again", item.id)
            return
        self.last_lag_s["news"] = (item.ts_init - item.ts_event) / NS
        if self.risk.news_is_stale(item):
            self.journal.flush()
            self.counters.stale_news += 1
            log.info("news %s is %.0f s old at receipt: journaled, not traded", item.id,
                     (item.ts_init - item.ts_event) / NS)  # fmt: skip
            return
        sent = self.counters.orders_sent
        shock = self.engine.on_news(item)
        self.journal.record_shock(shock)
        self.metrics.shocks.inc()
        traded = self.counters.orders_sent > sent
        self.counters.shocks_traded += traded
        self._remember(shock, traded)
        self.journal.flush()
        if traded and log.isEnabledFor(logging.INFO):
            legs = " ".join(
                f"{x.symbol} {x.score:+.2f}" for x in shock.tradable(self.scorer.threshold)
            )
            log.info("news %s traded (%d orders): %s | %s", item.id,
                     self.counters.orders_sent - sent, item.headline[:120], legs)  # fmt: skip
        self.engine.fire_due_timers()

    def trades(self, batch: TradeBatch) -> None:
        """Fold trades into market state; the simulated broker fills against them.

        A timer due within the batch fires between the trades before and after its time (as in
        a backtest), and a replay clock is moved through the batch as it goes.
        """
        n = len(batch)
        if n == 0:
            return
        self._trades_in.inc()
        self.counters.trades += n
        slots = self.market.slots_of(batch.symbols)
        before = self.market.skipped
        advance = getattr(self.clock, "advance_to", None)
        start = 0
        while (due := self.engine.next_timer_ns()) is not None and due <= batch.ts[-1]:
            cut = int(np.searchsorted(batch.ts, due, side="left"))
            if cut > start:
                self._fold(batch, slots, start, cut)
                start = cut
            if advance is not None:
                advance(due)
            if not self.engine.fire_due_timers(until_ns=due):
                break  # due later than now on a live clock: fires on a later tick
        self._fold(batch, slots, start, n)
        if advance is not None:
            advance(int(batch.ts[-1]))
        self.counters.unknown_symbol_trades += self.market.skipped - before
        self.last_lag_s["trades"] = (batch.ts_init - int(batch.ts[-1])) / NS
        self.engine.fire_due_timers()
        self.journal.flush()
        if self._warm_wake is not None:
            _settle_future(self._warm_wake, True)  # a frame was folded: rehearse now

    def _fold(self, batch: TradeBatch, slots: np.ndarray, start: int, end: int) -> None:
        if end <= start:
            return
        if start == 0 and end == len(batch):
            part = batch
        else:
            part = TradeBatch(
                batch.symbols[start:end], batch.ts[start:end], batch.price[start:end],
                batch.size[start:end], batch.ts_init,
            )  # fmt: skip
        self.engine.on_trades(None, part.ts, part.price, slots[start:end])
        self.broker.on_trades(part)

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        """Count, log and keep a message that failed to decode; the loop goes on."""
        self.counters.bad_messages += 1
        self.metrics.decode_errors.labels(feed).inc()
        log.warning("bad message on %s (%s): %s", feed, source, reason)
        if self.dead_letters is not None:
            self.dead_letters.write(self.clock.now_ns(), feed, source, payload, reason)
            self.metrics.dead_letters.labels(feed).inc()

    def connection(self, feed: str, connected: bool) -> None:
        """Track feed connections for /healthz."""
        if self.connected.get(feed) != connected:
            log.info("feed %s %s", feed, "connected" if connected else "disconnected")
        self.connected[feed] = connected

    # ---- orders --------------------------------------------------------------------------

    def send(self, intent: OrderIntent, position: float, *, check: bool = True) -> bool:
        """Risk-check, journal, then submit an order the engine's limits let through.

        `check=False` skips the live risk checks (orders that reduce risk after a halt).
        """
        cid = intent.client_order_id
        now = self.clock.now_ns()
        reason = self.risk.check(intent) if check else ""
        if reason:
            self.counters.orders_blocked += 1
            if self.journal.record_intent(intent, now):
                self.journal.update_order(cid, "queued" if "queued" in reason else "blocked", now)
            self.metrics.orders.labels("blocked").inc()
            log.info("order %s %s %+g blocked: %s", cid, intent.symbol, intent.qty, reason)
            return False
        if not self.journal.record_intent(intent, now):
            self.counters.orders_not_resent += 1
            log.warning("order %s was journaled before: not sent again", cid)
            return False
        if self._durable_orders:
            self.journal.commit_before_acting()  # the headline and this order, durable first
        self.orders[cid] = OrderView(
            cid, intent.strategy_id, intent.news_id, intent.symbol, intent.qty, "new"
        )
        self.counters.orders_sent += 1
        waited_ns = time.time_ns() - self._receipt_ns if self._receipt_ns else -1
        accepted = self.broker.submit(intent, position)
        # the bookkeeping that need not come first comes after the order is out
        self._orders_in("new").inc()
        if waited_ns >= 0:
            self.metrics.news_to_order.observe(waited_ns / NS)
        log.info("order %s %s %+g (%s) sent", cid, intent.symbol, intent.qty, intent.leg)
        return accepted

    def order_status(
        self, client_order_id: str, status: str, broker_id: str | None = None, reason: str = ""
    ) -> None:
        """A broker's word on an order: journal it, show it."""
        self.journal.update_order(client_order_id, status, self.clock.now_ns(), broker_id)
        self._orders_in(status).inc()
        view = self.orders.get(client_order_id)
        if view is not None:
            view.status, view.reason = status, reason or view.reason
            if status in TERMINAL_STATES:
                del self.orders[client_order_id]
        if status == "rejected":
            log.warning("order %s rejected: %s", client_order_id, reason or "no reason given")

    def fill(self, fill: Fill) -> None:
        """Journal a fill, then book it and tell its strategy."""
        self.journal.record_fill(fill)
        self.counters.fills += 1
        self.engine.on_fill(fill)

    def _orders_in(self, state: str) -> Any:
        child = self._order_state.get(state)
        if child is None:
            child = self._order_state[state] = self.metrics.orders.labels(state)
        return child

    # ---- status --------------------------------------------------------------------------

    def kill(self, reason: str) -> None:
        """Halt trading and cancel open orders (and flatten, if configured)."""
        self.risk.kill(reason)
        self._halt_handled = True
        self._spawn(self._after_halt(), "kill")

    async def _after_halt(self) -> None:
        cancelled = await self.broker.cancel_all()
        log.warning("trading halted (%s): %d open orders cancelled", self.risk.halted_reason,
                    cancelled)  # fmt: skip
        if self.settings.daemon.flatten_on_kill:
            self._flatten()

    def _flatten(self) -> None:
        now = self.clock.now_ns()
        for sid in self.engine.strategy_ids:
            for symbol, qty in list(self.engine.portfolio(sid).positions.items()):
                intent = OrderIntent(
                    strategy_id=sid, news_id=f"flatten-{now}", symbol=symbol, qty=-qty,
                    leg="flatten", ts_init=now, reason="flatten on kill",
                )  # fmt: skip
                self.send(intent, qty, check=False)

    def equity(self) -> float:
        """Cash plus positions at the last prices, over every strategy."""
        total = 0.0
        for sid in self.engine.strategy_ids:
            book = self.engine.portfolio(sid)
            total += book.cash + self.market.mark(book.positions)
        return total

    def health(self) -> dict[str, Any]:
        """Feeds connected and their lag."""
        worst = max(self.last_lag_s.values(), default=0.0)
        live = [f.name for f in self.feeds if f.name != "replay"]
        ok = (
            all(self.connected.get(name) for name in live)
            and worst < self.settings.daemon.stale_lag_s
        )
        return {
            "ok": ok, "feeds": dict(self.connected), "lag_s": dict(self.last_lag_s),
            "halted": self.risk.halted_reason or None,
        }  # fmt: skip

    def state(self) -> dict[str, Any]:
        """Positions, open orders, recent shocks, counters (JSON-ready)."""
        books = {
            sid: {
                "cash": round(self.engine.portfolio(sid).cash, 2),
                "positions": dict(self.engine.portfolio(sid).positions),
            }
            for sid in self.engine.strategy_ids
        }
        status = {sid: self.engine.status(sid) for sid in self.engine.strategy_ids}
        for sid, st in status.items():
            books[sid]["status"] = st.state
            books[sid]["failures"] = st.failures
            books[sid]["last_error"] = st.last_error or None
        return {
            "now_ns": self.clock.now_ns(),
            "broker": self.broker.name,
            "halted": self.risk.halted_reason or None,
            "equity": round(self.equity(), 2),
            "pnl": round(self.equity() - self._day_start_equity, 2),
            "strategies": books,
            "open_orders": [o.to_dict() for o in self.orders.values()],
            "recent_shocks": list(self.recent)[::-1][:20],
            "counters": vars_of(self.counters),
            "feeds": dict(self.connected),
            "reconcile": self.reconcile,
            "rehearsals": {  # see engine.live.warm: none of it is kept or sent
                "every_ms": self.settings.daemon.keep_warm_ms if self.keeps_warm else 0,
                "runs": self.rehearsal.runs,
                "skipped": self.rehearsal.skipped,
                "strategies": self.rehearsal.strategy_ids,
            },
        }

    def _remember(self, shock: Shock, traded: bool) -> None:
        self.recent.append(
            {
                "news_id": shock.news_id, "ts_init": shock.ts_init, "headline": shock.headline,
                "traded": traded,
                "legs": [leg.to_dict() for leg in shock.tradable(self.scorer.threshold)][:8],
            }
        )  # fmt: skip

    # ---- housekeeping --------------------------------------------------------------------

    async def _tick(self) -> None:
        """Fire timers, release queued orders, watch the day's loss; trim in-memory history."""
        last_checkpoint = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            self.engine.fire_due_timers()
            self.journal.flush()
            if time.monotonic() - last_checkpoint > CHECKPOINT_EVERY_S:
                self._save_states()  # a crash loses at most this much strategy state
                await asyncio.to_thread(self.journal.checkpoint)
                last_checkpoint = time.monotonic()
            now = self.clock.now_ns()
            if now - self._last_sample >= SAMPLE_EVERY_NS:
                self.market.sample(now)  # betas and volatility on a common clock, as in backtests
                self._last_sample = now
            for intent in self.risk.release_queued():
                self.send(intent, self.engine.portfolio(intent.strategy_id).position(intent.symbol))
            self.risk.on_day_pnl(self.equity() - self._day_start_equity)
            if self.risk.halted and not self._halt_handled:
                self._halt_handled = True
                self._spawn(self._after_halt(), "halt")
            for history in (self.engine.shocks, self.engine.intents, self.engine.fills):
                if len(history) > 10_000:
                    del history[:-1_000]
            del self.engine.blocked[:-1_000]

    @property
    def keeps_warm(self) -> bool:
        """Whether the daemon rehearses headlines: `daemon.keep_warm_ms` > 0 on the wall clock
        (a replay's clock runs on played time: nothing waits on a real headline there)."""
        return self.settings.daemon.keep_warm_ms > 0 and isinstance(self.clock, LiveClock)

    async def _keep_warm(self) -> None:
        """Rehearse the headline path right after each tick frame (folding one pushes the
        path out of the caches) and whenever `daemon.keep_warm_ms` passed without a headline
        (see `engine.live.warm`)."""
        every_s = self.settings.daemon.keep_warm_ms / 1e3
        loop = asyncio.get_running_loop()
        while True:
            wake = self._warm_wake = loop.create_future()  # `trades` sets it True
            timer = loop.call_later(every_s, _settle_future, wake, False)
            after_frame = await wake
            timer.cancel()
            self._warm_wake = None
            if after_frame or time.monotonic() - self._last_news_mono >= every_s:
                try:
                    for _ in self.rehearsal.stages():
                        await asyncio.sleep(0)  # a message that came in goes first
                except Exception:  # only speed is lost: the daemon goes on without rehearsals
                    log.exception("a rehearsal failed: no more rehearsals until restart")
                    return

    def _save_states(self) -> None:
        now = self.clock.now_ns()
        for sid, state in self.engine.save_states().items():
            self.journal.save_strategy_state(sid, state, now)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _settle_future(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class _Guard:
    """The engine's broker: every order goes through `LiveNode.send`."""

    def __init__(self, node: LiveNode) -> None:
        self._node = node

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        return self._node.send(intent, position)
