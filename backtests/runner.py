"""The event-driven backtest: replay news and trades through the engine on a simulated clock.

Headlines are released at `ts_init` = publication + receipt latency, never earlier; trades reach
the engine in batches that end before the next event (a headline or a timer), so a strategy sees
only prices of trades that happened before its decision. The same `Engine` and strategies run
live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from engine.brokers.sim_venue import SimulatedVenue, VenueSettings
from engine.clock import SimClock
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import Fill, OrderIntent
from engine.runtime import Engine, RiskLimits
from engine.scoring import Scorer, Shock
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


def run_backtest(
    news: pl.DataFrame,
    trades: pl.DataFrame,
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
    """Replay `news` (from `load_news`) and `trades` (`ts, symbol, price, size`) through strategies."""
    trades = trades.sort("ts", maintain_order=True)
    t_ts = trades["ts"].to_numpy().astype(np.int64)
    t_px = trades["price"].to_numpy().astype(np.float64)
    symbols = sorted(trades["symbol"].unique().to_list())  # a symbol's slot: its index here
    slot_of = {sym: i for i, sym in enumerate(symbols)}
    t_slot = trades["symbol"].replace_strict(slot_of, return_dtype=pl.Int64).to_numpy()
    sectors = [_sector(scorer, s) for s in symbols]
    market = MarketState(symbols, sectors)
    first_news = int(news["ts_event"].min()) if news.height else 0  # type: ignore[arg-type]
    start = min(int(t_ts[0]) if len(t_ts) else first_news, first_news)
    clock = SimClock(start)
    sim_venue = SimulatedVenue(venue or VenueSettings(), slot_of=slot_of)
    engine = Engine(scorer, market, clock, sim_venue, risk or RiskLimits())
    for strategy in strategies:
        engine.add_strategy(strategy, cash=cash)
    scorer.reset_novelty()
    latency = int(receipt_latency_s * 1e9)
    items = [
        NewsItem(
            id=row["id"], headline=row["headline"], summary=row["summary"], symbols=row["symbols"] or [],
            source=row["source"], ts_event=row["ts_event"], ts_init=row["ts_event"] + latency,
        )
        for row in news.iter_rows(named=True)
    ]  # fmt: skip
    items.sort(key=lambda x: x.ts_init)
    equity_rows: list[tuple[int, str, float]] = []
    step = int(equity_every_s * 1e9)
    next_mark = start + step
    sample_every = int(sample_every_s * 1e9)
    next_sample = start + sample_every
    engine.start()
    k = 0  # next trade
    n = len(t_ts)
    end = int(t_ts[-1]) + 1 if n else start
    for i_news in range(len(items) + 1):
        boundary_news = items[i_news].ts_init if i_news < len(items) else end
        while True:
            timer = clock.next_timer_ns()
            boundary = min(
                boundary_news, next_mark, next_sample, timer if timer is not None else boundary_news
            )
            if boundary in (next_mark, next_sample) and (k >= n or t_ts[k] > boundary):
                # nothing trades before the next mark: jump the marks over the quiet stretch
                quiet_until = min(
                    int(t_ts[k]) if k < n else end, boundary_news, timer or boundary_news
                )
                next_mark += max(0, (quiet_until - next_mark) // step) * step
                next_sample += max(0, (quiet_until - next_sample) // sample_every) * sample_every
                boundary = min(
                    boundary_news,
                    next_mark,
                    next_sample,
                    timer if timer is not None else boundary_news,
                )
            j = int(np.searchsorted(t_ts, boundary, side="left"))
            if j > k:
                engine.on_trades(None, t_ts[k:j], t_px[k:j], t_slot[k:j])
                clock.advance_to(max(clock.now_ns(), int(t_ts[j - 1])))
                k = j
            clock.advance_to(max(clock.now_ns(), boundary))  # fires timers due by now
            if boundary == next_sample:
                market.sample()
                next_sample += sample_every
            if boundary == next_mark:
                for sid in engine.strategy_ids:
                    equity_rows.append((boundary, sid, _equity(engine, market, sid)))
                next_mark += step
            if boundary >= boundary_news:
                break
        if i_news < len(items):
            engine.on_news(items[i_news])
            if progress:
                progress(i_news + 1, len(items))
        if boundary_news >= end and i_news >= len(items) - 1 and k >= n:
            break
    engine.stop()
    for sid in engine.strategy_ids:
        equity_rows.append((clock.now_ns(), sid, _equity(engine, market, sid)))
    equity = pl.DataFrame(equity_rows, schema=["ts", "strategy_id", "equity"], orient="row")
    return BacktestResult(
        shocks=engine.shocks,
        fills=engine.fills,
        intents=engine.intents,
        equity=equity,
        blocked=len(engine.blocked),
        rejected=len(sim_venue.rejected),
        skipped_trades=market.skipped,
        strategy_ids=engine.strategy_ids,
    )


def _equity(engine: Engine, market: MarketState, strategy_id: str) -> float:
    book = engine.portfolio(strategy_id)
    return book.cash + market.mark(book.positions)


def _sector(scorer: Scorer, symbol: str) -> str:
    company = scorer.universe.find(symbol)
    return company.sector if company else "unknown"
