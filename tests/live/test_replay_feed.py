"""The replay feed plays events in time order on its own clock: no price from after a headline."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from engine.clock import ReplayClock
from engine.feeds.base import TradeBatch
from engine.live.replay import ReplayFeed, ReplayNews
from engine.news import NewsItem

S = 1_000_000_000


class Recorder:
    def __init__(self, clock: ReplayClock) -> None:
        self.clock = clock
        self.events: list[tuple[str, Any, int]] = []
        self.links: list[bool] = []

    def news(self, item: NewsItem) -> None:
        self.events.append(("news", item, self.clock.now_ns()))

    def trades(self, batch: TradeBatch) -> None:
        self.events.append(("trades", batch, self.clock.now_ns()))

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        raise AssertionError(reason)

    def connection(self, feed: str, connected: bool) -> None:
        self.links.append(connected)


@pytest.mark.asyncio
async def test_replay_delivers_every_event_in_order_and_headlines_at_their_own_time() -> None:
    day = 1_700_000_000 * S
    ts = day + np.arange(0, 3600 * S, 7 * S, dtype=np.int64)  # a trade every 7 s for an hour
    news = [
        ReplayNews(id=f"n{i}", headline=f"h{i}", ts_event=day + i * 600 * S + 3 * S)
        for i in range(6)
    ]
    news.append(ReplayNews(id="late", headline="after a night", ts_event=day + 20 * 3600 * S))
    clock = ReplayClock()
    feed = ReplayFeed(
        news, ts, ["AAA", "BBB"] * (len(ts) // 2) + ["AAA"] * (len(ts) % 2),
        np.full(len(ts), 10.0), np.full(len(ts), 1.0), clock, speed=100_000, batch_ms=1,
    )  # fmt: skip
    clock.advance_to(feed.first_ts())
    sink = Recorder(clock)
    await asyncio.wait_for(feed.run(sink), 10)  # the night is skipped, not waited for
    assert sink.links == [True, False]
    seen_ts = np.concatenate([b.ts for kind, b, _ in sink.events if kind == "trades"])
    assert np.array_equal(seen_ts, ts), "every trade once, in order"
    last_trade = -1
    for kind, event, now in sink.events:
        if kind == "trades":
            assert event.ts[0] > last_trade
            last_trade = int(event.ts[-1])
        else:
            assert now == event.ts_event == event.ts_init, "received at its own time"
            assert last_trade <= event.ts_event, "no trade from after the headline before it"
            later = ts[ts < event.ts_event]  # one at its very time comes after it
            assert later[-1] == last_trade, "every trade before the headline came first"
    assert [e.id for k, e, _ in sink.events if k == "news"] == [n.id for n in news]
