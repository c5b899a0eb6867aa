"""What every feed produces and whom it tells.

A feed decodes messages at the edge and hands the daemon's `FeedSink` validated events:
headlines as `NewsItem` (stamped with `ts_init`, our receipt time, on arrival) and trades as
`TradeBatch` columns. A message that fails to decode goes to `bad_message` with its reason;
the feed then goes on. Sink calls are synchronous and run on the event loop thread, so a
headline is scored and traded in the same call that received it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from engine.news import NewsItem


@dataclass(slots=True, frozen=True)
class TradeBatch:
    """Trades received together: parallel columns, `ts` in int64 ns, oldest first."""

    symbols: list[str]
    ts: np.ndarray  # int64, ns since the epoch (the trade's own time)
    price: np.ndarray  # float64
    size: np.ndarray  # float64
    ts_init: int  # receipt time, ns

    def __len__(self) -> int:
        return len(self.symbols)


class FeedSink(Protocol):
    """The daemon side of a feed."""

    def news(self, item: NewsItem) -> None:
        """A decoded headline; `item.ts_init` is its receipt time."""
        ...

    def trades(self, batch: TradeBatch) -> None:
        """A decoded batch of trades."""
        ...

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        """A message that failed to decode (`source`: its topic or stream); keep it and go on."""
        ...

    def connection(self, feed: str, connected: bool) -> None:
        """The feed (re)connected or lost its connection."""
        ...


class Feed(Protocol):
    """A source of news and/or trades run by the daemon."""

    name: str

    async def run(self, sink: FeedSink) -> None:
        """Deliver events to `sink` until cancelled (reconnecting as needed) or the source ends."""
        ...
