"""Helpers for daemon tests: a feed the test drives, and waiting on conditions."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from engine.clock import Clock, LiveClock
from engine.feeds.base import FeedSink, TradeBatch
from engine.news import news_from_mapping
from tests.support.waiting import until

__all__ = ["QueueFeed", "until"]


class QueueFeed:
    """A feed that delivers what the test pushes, in order, on the event loop."""

    def __init__(self, clock: Clock | None = None, name: str = "test") -> None:
        self.name = name
        self.clock = clock or LiveClock()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def push_news(self, **fields: Any) -> None:
        self.queue.put_nowait(("news", fields))

    def push_trades(self, prices: dict[str, float], ts_ns: int | None = None) -> None:
        self.queue.put_nowait(("trades", (prices, ts_ns)))

    def push_bad(self, payload: bytes, reason: str) -> None:
        self.queue.put_nowait(("bad", (payload, reason)))

    async def run(self, sink: FeedSink) -> None:
        sink.connection(self.name, True)
        try:
            while True:
                kind, value = await self.queue.get()
                now = self.clock.now_ns()
                if kind == "news":
                    sink.news(news_from_mapping(value, now_ns=now))
                elif kind == "trades":
                    prices, ts = value
                    n = len(prices)
                    sink.trades(
                        TradeBatch(
                            symbols=list(prices), ts=np.full(n, ts or now, np.int64),
                            price=np.array(list(prices.values())), size=np.full(n, 100.0),
                            ts_init=now,
                        )
                    )  # fmt: skip
                else:
                    payload, reason = value
                    sink.bad_message(self.name, "test/topic", payload, reason)
        finally:
            sink.connection(self.name, False)
