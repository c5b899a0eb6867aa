"""The event-driven backtest: replay news and trades through the engine on a simulated clock.

Headlines are released at `ts_init` = publication + receipt latency, never earlier; trades reach
the engine in batches that end before the next event (a headline, a timer or a fill), so a
strategy sees only prices of trades that happened before its decision (for a fill: up to and
including the fill's trade). The venue (`backtests.tape_venue`) finds each order's fill when it
is sent; the fill is an event on the clock like the others. The same `Engine` and strategies run
live.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import cast

import numpy as np
import polars as pl

from backtests.data import TradeTape, trade_tape
from backtests.tape_venue import TapeVenue
from engine.brokers.sim_venue import VenueSettings
from engine.clock import SimClock
from engine.kernels.ledger_nb import equity_at_nb
from engine.kernels.market_nb import G_NEXT_MARK, G_NEXT_SAMPLE
from engine.kernels.watch_nb import (
    CH_SEQ,
    M_FIRED_TS,
    M_NEXT,
    M_SEQ,
    M_STATUS,
    STATUS_CHECK,
    next_check_nb,
)
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import Fill, OrderIntent
from engine.runtime import Engine, RiskLimits
from engine.scoring import Scorer, Shock
from engine.scoring.scorer import ShockBatch
from engine.strategy import Strategy


@dataclass(slots=True)
class BacktestResult:
    """Everything a report needs."""

    shocks: list[Shock]
    fills: list[Fill]
    intents: list[OrderIntent]
    equity: pl.DataFrame  # ts, strategy_id, equity
    blocked: int
    rejected: int
    skipped_trades: int
    strategy_ids: list[str] = field(default_factory=list)


_ts_init = attrgetter("ts_init")


def news_items(news: pl.DataFrame, receipt_latency_s: float) -> list[NewsItem]:
    """Headlines from `load_news` as items received `receipt_latency_s` after publication, in
    receipt order."""
    latency = int(receipt_latency_s * 1e9)
    columns = (
        news[c].to_list() for c in ("id", "headline", "summary", "symbols", "source", "ts_event")
    )
    items = [
        NewsItem(id=i, headline=h, summary=s, symbols=sy or [], source=so, ts_event=t, ts_init=t + latency)
        for i, h, s, sy, so, t in zip(*columns, strict=True)
    ]  # fmt: skip
    items.sort(key=_ts_init)
    return items


_SINGLE_HINTS = 16  # `Scorer.score` keeps at most this many symbol hints, `score_batch` all


class _Prescored:
    """Hands the engine shocks scored in batches before the replay.

    Scoring depends only on the headlines and the novelty state in receipt order, never on
    prices or on what strategies do, so scoring every headline up front in that order gives the
    same shocks as scoring each on receipt; a shock is built (and handed over) on receipt. The
    rare item with more symbols than `Scorer.score` takes as hints is scored by it, in its place
    in the order, so every shock is the one `Scorer.score` gives.
    """

    def __init__(self, scorer: Scorer, items: list[NewsItem]) -> None:
        self.universe = scorer.universe
        scorer.reset_novelty()
        self._items = items
        self._next = 0
        self._where: list[tuple[ShockBatch | Shock, int]] = []
        run: list[NewsItem] = []

        def flush() -> None:
            if run:
                batch = scorer.score_batch(list(run))
                self._where.extend((batch, i) for i in range(len(run)))
                run.clear()

        for item in items:
            if len(item.symbols) > _SINGLE_HINTS:
                flush()
                self._where.append((scorer.score(item), 0))
            else:
                run.append(item)
        flush()

    def score(self, item: NewsItem) -> Shock:
        i = self._next
        assert item is self._items[i], "headlines must reach the engine in receipt order"
        self._next += 1
        found, row = self._where[i]
        return found if isinstance(found, Shock) else found.shock(row)


def run_backtest(
    news: pl.DataFrame,
    trades: pl.DataFrame | TradeTape,
    strategies: Sequence[Strategy],
    scorer: Scorer,
    *,
    receipt_latency_s: float = 2.0,
    venue: VenueSettings | None = None,
    risk: RiskLimits | None = None,
    cash: float = 1_000_000.0,
    equity_every_s: float = 60.0,
    sample_every_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay `news` (from `load_news`) and `trades` (`ts, symbol, price, size`, or a
    `TradeTape`) through strategies.

    The engine sees events in time order: trades in batches up to the next event, then the
    event; at one time, timers, then a headline, then fills (in the order their orders were
    sent). Beta samples and equity marks fall on fixed grids inside batches (kernels), never
    cutting them. Watch checks (`ctx.watch`) are timers too, but the runner runs them in the
    fold of the batch (`MarketState.fold_checked`): one that finds every watch in its band
    calls nothing and leaves the grid as a timer would; at one that does not, the batch ends
    and the check runs in its place among the timers due then (`SimClock.fire_before`).
    """
    # The replay allocates hundreds of thousands of long-lived objects (shocks, intents, fills,
    # baskets) and no reference cycles of note; the cyclic collector would traverse them all
    # again and again (about 15% of the replay). It is back on as soon as the replay ends.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(
            news, trades, strategies, scorer, receipt_latency_s=receipt_latency_s, venue=venue,
            risk=risk, cash=cash, equity_every_s=equity_every_s, sample_every_s=sample_every_s,
            progress=progress,
        )  # fmt: skip
    finally:
        if gc_was_enabled:
            gc.enable()


def _run(
    news: pl.DataFrame,
    trades: pl.DataFrame | TradeTape,
    strategies: Sequence[Strategy],
    scorer: Scorer,
    *,
    receipt_latency_s: float,
    venue: VenueSettings | None,
    risk: RiskLimits | None,
    cash: float,
    equity_every_s: float,
    sample_every_s: float,
    progress: Callable[[int, int], None] | None,
) -> BacktestResult:
    tape = trades if isinstance(trades, TradeTape) else trade_tape(trades)
    t_ts, t_px, t_slot = tape.ts, tape.price, tape.slot
    symbols = tape.symbols
    slot_of = {sym: i for i, sym in enumerate(symbols)}
    sectors = [_sector(scorer, s) for s in symbols]
    market = MarketState(symbols, sectors)
    first_news = int(news["ts_event"].min()) if news.height else 0  # type: ignore[arg-type]
    n = len(t_ts)
    start = min(int(t_ts[0]) if n else first_news, first_news)
    clock = SimClock(start)
    tape_venue = TapeVenue(
        venue or VenueSettings(), ts=t_ts, slot=t_slot, price=t_px, slot_of=slot_of
    )
    items = news_items(news, receipt_latency_s)
    engine = Engine(
        cast(Scorer, _Prescored(scorer, items)), market, clock, tape_venue, risk or RiskLimits()
    )
    engine.drive_checks()
    for strategy in strategies:
        engine.add_strategy(strategy, cash=cash)
    market.start_grid(start, int(equity_every_s * 1e9), int(sample_every_s * 1e9))
    engine.start()
    k = 0  # next trade
    end = int(t_ts[-1]) + 1 if n else start
    # the trades before each headline, found in one call; a timer's are searched for only
    # among the trades up to the next headline (a binary search over the whole tape costs
    # about a microsecond in cache misses)
    news_cut = t_ts.searchsorted(np.array([item.ts_init for item in items], np.int64)).tolist()
    grid = market.grid
    assert grid is not None
    g = grid.data  # grid entries as Python ints (a memoryview item: half a numpy `item`)
    next_timer, advance, now = clock.next_timer_ns, clock.advance_to, clock.now_ns
    move_to = clock.move_to
    defer, fold_to, fold_checked = market.defer, market.fold_to, market.fold_checked
    on_fill, pop_fill = engine.on_fill, tape_venue.pop_fill
    watches, m = engine.watches, engine.watches.m  # m: `watches.meta` as a memoryview
    for i_news in range(len(items) + 1):
        if i_news < len(items):
            boundary_news, j_news = items[i_news].ts_init, news_cut[i_news]
        else:
            boundary_news, j_news = end, n
        while True:
            timer = next_timer()
            limit = boundary_news if timer is None or timer >= boundary_news else timer
            fill_ns = tape_venue.next_fill_ns
            check_ns = m[M_NEXT]  # the watch checks are the runner's (drive_checks)
            if fill_ns < limit and fill_ns < check_ns:
                # a fill comes first: the market is folded past the trades at or before it
                # (grid points on the way are taken as ever: the batch's limit is unchanged),
                # when it is next read or with the next fold (most fills read no price)
                cut = tape_venue.next_fill_cut
                if cut > k:
                    defer(t_slot, t_ts, t_px, k, cut, limit)
                    k = cut
                move_to(fill_ns)  # no timer is due before it (it is before the limit)
                on_fill(pop_fill())
                continue
            if check_ns < limit:
                # checks are due before the next event (at or before a fill: those at its
                # time come first, as timers do): the fold runs those that find every watch
                # in its band and stops at one that does not, which then runs as a timer
                filling = fill_ns < limit
                m[M_SEQ] = clock.seq
                k = fold_checked(
                    t_slot, t_ts, t_px, k, tape_venue.next_fill_cut if filling else j_news,
                    limit, fill_ns + 1 if filling else limit, not filling, watches,
                )  # fmt: skip
                clock.seq = m[M_SEQ]
                if m[M_STATUS] == STATUS_CHECK:
                    limit = m[M_FIRED_TS]
                elif filling:
                    continue  # folded up to the fill: it is the next event
            else:
                # the trades before the limit, and the grid points before it (past the last
                # trade, every one up to the limit)
                k = fold_to(t_slot, t_ts, t_px, k, j_news, limit)
            if k >= n:
                market.grid_until(end, False, end, at_limit=False)
            # the timers due by the limit, with the checks due then in their place among them
            while m[M_NEXT] <= limit:
                chain = next_check_nb(watches.chains)
                clock.fire_before(m[M_NEXT], watches.chains.item(CH_SEQ, chain))
                engine.run_check(chain, now())
            t = now()
            advance(limit if limit > t else t)  # a conditional: builtin `max` costs 3x
            # only the runner moves the grid, so the timers due at the limit leave the next
            # grid point where it was: at the limit, it is taken after them
            mark, sample = g[G_NEXT_MARK], g[G_NEXT_SAMPLE]
            if (mark if mark < sample else sample) == limit:
                market.grid_until(int(t_ts[k]) if k < n else end, k < n, end, at_limit=True)
            if limit >= boundary_news:
                break
        if i_news < len(items):
            engine.on_news(items[i_news])
            if progress:
                progress(i_news + 1, len(items))
        if boundary_news >= end and i_news >= len(items) - 1 and k >= n:
            break
    engine.stop()
    equity = _equity_table(engine, market, tape, cash)
    return BacktestResult(
        shocks=engine.shocks,
        fills=engine.fills,
        intents=engine.intents,
        equity=equity,
        blocked=len(engine.blocked),
        rejected=len(tape_venue.rejected),
        skipped_trades=market.skipped,
        strategy_ids=engine.strategy_ids,
    )


def _equity_table(
    engine: Engine, market: MarketState, tape: TradeTape, cash: float
) -> pl.DataFrame:
    """Equity of every book at each grid mark (from the fills), then at the end."""
    sids = engine.strategy_ids
    book_of = {sid: b for b, sid in enumerate(sids)}
    f_ts, f_slot, f_book, f_qty, f_price, f_commission = _booked_fill_columns(
        engine.fills, engine.broker, market.slot, book_of
    )
    marks = market.mark_times
    values = equity_at_nb(
        tape.slot, tape.ts, tape.price, f_ts, f_slot, f_book, f_qty, f_price, f_commission,
        marks, np.full(len(sids), cash), len(market.symbols),
    )  # fmt: skip
    now = engine.clock.now_ns()
    last = np.array([_equity(engine, market, sid) for sid in sids], np.float64)
    n_rows = len(marks) + 1
    return pl.DataFrame(
        {
            "ts": np.append(np.repeat(marks, len(sids)), np.full(len(sids), now, np.int64)),
            # each mark's row per book, in book order: the ids by index, not a list of strings
            "strategy_id": pl.Series(sids, dtype=pl.String).gather(
                np.tile(np.arange(len(sids), dtype=np.int64), n_rows)
            ),
            "equity": np.append(values.ravel(), last),
        },
        schema={"ts": pl.Int64, "strategy_id": pl.String, "equity": pl.Float64},
    )


_ts_event, _qty, _price, _commission, _symbol, _strategy_id = (
    attrgetter(name) for name in ("ts_event", "qty", "price", "commission", "symbol", "strategy_id")
)
_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _booked_fill_columns(
    fills: list[Fill], broker: object, slot_of: dict[str, int], book_of: dict[str, int]
) -> _Columns:
    """Time, market slot, book, qty, price and commission of the booked `fills` of known
    symbols (`slot_of`) and books (`book_of`), in time order (at one time, in booking order).

    When the fills are the ones the tape venue made (the replay books each one as it comes,
    and nothing else), they are read from the venue's records, not from the `Fill` objects.
    """
    if (
        isinstance(broker, TapeVenue)
        and broker.fills_made == len(fills)
        and broker.slot_of == slot_of
    ):
        made = broker.fill_records()
        book = np.array([book_of.get(sid, -1) for sid in broker.books], np.int64)
        columns: _Columns = (  # contiguous int64 and float64 arrays, as `_fill_columns` makes
            np.ascontiguousarray(made["ts"]),
            broker.slot[made["trade"]].astype(np.int64),
            book[made["book"]],
            np.ascontiguousarray(made["qty"]),
            np.ascontiguousarray(made["price"]),
            np.ascontiguousarray(made["commission"]),
        )
    else:
        columns = _fill_columns(fills, slot_of, book_of)
    return _known_in_time_order(columns)


def _fill_columns(fills: list[Fill], slot_of: dict[str, int], book_of: dict[str, int]) -> _Columns:
    """Time, market slot, book, qty, price and commission of each fill (-1: a slot or book
    not known), each column one pass in C (`np.fromiter` over `map`)."""
    n = len(fills)
    return (
        np.fromiter(map(_ts_event, fills), np.int64, n),
        np.fromiter(map(slot_of.get, map(_symbol, fills), repeat(-1)), np.int64, n),
        np.fromiter(map(book_of.get, map(_strategy_id, fills), repeat(-1)), np.int64, n),
        np.fromiter(map(_qty, fills), np.float64, n),
        np.fromiter(map(_price, fills), np.float64, n),
        np.fromiter(map(_commission, fills), np.float64, n),
    )


def _known_in_time_order(columns: _Columns) -> _Columns:
    """The fills (columns as `_fill_columns` makes them) of known slots and books, in time
    order (fills at one time in the order given).

    Fills are booked in time order, so the (stable) sort is only done when they are not.
    """
    known = (columns[1] >= 0) & (columns[2] >= 0)
    if not known.all():
        columns = _take(columns, known)
    ts = columns[0]
    if bool((ts[1:] < ts[:-1]).any()):
        columns = _take(columns, np.argsort(ts, kind="stable"))
    return columns


def _take(columns: _Columns, index: np.ndarray) -> _Columns:
    ts, slot, book, qty, price, commission = columns
    return ts[index], slot[index], book[index], qty[index], price[index], commission[index]


def _equity(engine: Engine, market: MarketState, strategy_id: str) -> float:
    book = engine.portfolio(strategy_id)
    return book.cash + market.mark(book.positions)


def _sector(scorer: Scorer, symbol: str) -> str:
    company = scorer.universe.find(symbol)
    return company.sector if company else "unknown"
