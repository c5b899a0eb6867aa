"""The embedded default feed: recorded news and trades replayed in real time, sped up.

Every `batch_ms` of wall time the feed plays what `speed` times that much replayed time holds:
trades in batches, each headline after the trades before it, the `ReplayClock` moved to each
event's own time as it goes (so a headline is received at its publication time, whatever the
speed). Quiet stretches longer than `max_gap_s` of replayed time (nights, weekends) are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.clock import ReplayClock
from engine.feeds.base import FeedSink, TradeBatch
from engine.news import NewsItem

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class ReplayNews:
    """A headline as recorded (no receipt time yet)."""

    id: str
    headline: str
    ts_event: int
    summary: str = ""
    symbols: tuple[str, ...] = ()
    source: str = ""


class ReplayFeed:
    """Plays news and trades on a `ReplayClock`; ends when both run out."""

    def __init__(
        self,
        news: Sequence[ReplayNews],
        trade_ts: np.ndarray,
        trade_symbols: Sequence[str],
        trade_price: np.ndarray,
        trade_size: np.ndarray,
        clock: ReplayClock,
        *,
        speed: float = 60.0,
        batch_ms: float = 50.0,
        max_gap_s: float = 300.0,
        name: str = "replay",
    ) -> None:
        order = np.argsort(trade_ts, kind="stable")
        self.ts = np.ascontiguousarray(trade_ts[order], dtype=np.int64)
        self.symbols = [trade_symbols[i] for i in order.tolist()]
        self.price = np.ascontiguousarray(trade_price[order], dtype=np.float64)
        self.size = np.ascontiguousarray(trade_size[order], dtype=np.float64)
        self.news = sorted(news, key=lambda x: x.ts_event)
        self.clock = clock
        self.batch_s = batch_ms / 1000
        self.speed = speed
        self.max_gap_ns = int(max_gap_s * 1e9)
        self.name = name
        self.sent_news = 0
        self.sent_trades = 0

    @property
    def total(self) -> tuple[int, int]:
        """Headlines and trades in the replay."""
        return len(self.news), len(self.ts)

    def first_ts(self) -> int:
        """Time of the first event (start the replay clock here)."""
        firsts = [int(self.ts[0])] if len(self.ts) else []
        firsts += [self.news[0].ts_event] if self.news else []
        return min(firsts) if firsts else 0

    async def run(self, sink: FeedSink) -> None:
        """Replay everything, then return."""
        sink.connection(self.name, True)
        n_trades, n_news = len(self.ts), len(self.news)
        k = i = 0
        step = int(self.batch_s * self.speed * 1e9)
        target = self.first_ts()
        last = max(int(self.ts[-1]) if n_trades else 0, self.news[-1].ts_event if n_news else 0)
        try:
            while k < n_trades or i < n_news:
                upcoming = min(
                    int(self.ts[k]) if k < n_trades else 2**62,
                    self.news[i].ts_event if i < n_news else 2**62,
                )
                if upcoming - target > self.max_gap_ns:
                    target = upcoming  # skip the night
                target += step
                while True:
                    # trades before the next headline go first; one at its very time, after it
                    # (as in a backtest, where a headline's decision sees earlier prices only)
                    if i < n_news and self.news[i].ts_event <= target:
                        j = int(np.searchsorted(self.ts, self.news[i].ts_event, side="left"))
                    else:
                        j = int(np.searchsorted(self.ts, target, side="right"))
                    if j > k:
                        self.clock.advance_to(int(self.ts[k]))  # the sink moves it through
                        sink.trades(
                            TradeBatch(
                                symbols=self.symbols[k:j], ts=self.ts[k:j], price=self.price[k:j],
                                size=self.size[k:j], ts_init=self.clock.now_ns(),
                            )
                        )  # fmt: skip
                        self.clock.advance_to(int(self.ts[j - 1]))
                        self.sent_trades += j - k
                        k = j
                    if i < n_news and self.news[i].ts_event <= target:
                        self.clock.advance_to(self.news[i].ts_event)
                        sink.news(self._item(self.news[i]))
                        self.sent_news += 1
                        i += 1
                        continue
                    break
                self.clock.advance_to(min(target, last + 1))  # the replay ends at its last event
                await asyncio.sleep(self.batch_s)
        finally:
            sink.connection(self.name, False)
        log.info("replay finished: %d headlines, %d trades", n_news, n_trades)

    def _item(self, news: ReplayNews) -> NewsItem:
        return NewsItem(
            id=news.id, headline=news.headline, ts_event=news.ts_event,
            ts_init=self.clock.now_ns(), summary=news.summary, symbols=list(news.symbols),
            source=news.source,
        )  # fmt: skip
