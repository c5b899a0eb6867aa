"""Benchmark: trades through alpaca-py's real `StockDataStream` into `AlpacaFeed`'s batches.

Run: `python -m bench.alpaca_feed [--frames 200] [--per-frame 500]`. The local msgpack stand-in
(tests/stand_in) sends the frames over loopback from its own thread, so the figure includes its
packing and the GIL it shares with us: a floor, not Alpaca's rate. Prints one line per case:
trades/s from the first frame sent to the last trade delivered, and trades per batch (the feed
hands over one `TradeBatch` per websocket frame).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from pydantic import SecretStr

from engine.clock import LiveClock
from engine.feeds.alpaca import AlpacaFeed
from engine.feeds.base import TradeBatch
from engine.news import NewsItem
from engine.settings import AlpacaSettings
from tests.stand_in.alpaca_stream_server import AlpacaStreamStandIn


class _CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.batches = 0
        self.up = asyncio.Event()

    def news(self, item: NewsItem) -> None:
        pass

    def trades(self, batch: TradeBatch) -> None:
        self.count += len(batch)
        self.batches += 1

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        raise AssertionError(reason)

    def connection(self, feed: str, connected: bool) -> None:
        if connected:
            self.up.set()


async def _case(server: AlpacaStreamStandIn, frames: int, per_frame: int) -> None:
    settings = AlpacaSettings(
        api_key=SecretStr("test-key"),
        secret_key=SecretStr("test-secret"),
        news_url=server.news_url,
        stocks_url=server.stocks_url,
    )
    sink = _CountingSink()
    task = asyncio.create_task(AlpacaFeed(settings, LiveClock(), ["AAPL"]).run(sink))
    await asyncio.wait_for(sink.up.wait(), 10)
    frame = [("AAPL", 100.0 + k % 7, 1 + k % 100) for k in range(per_frame)]
    server.push_trades(frame)  # warm up
    while sink.count < per_frame:
        await asyncio.sleep(0.001)
    sink.count = sink.batches = 0
    total = frames * per_frame

    def send() -> None:
        for _ in range(frames):
            server.push_trades(frame)

    started = time.perf_counter()
    sender = asyncio.create_task(asyncio.to_thread(send))
    while sink.count < total:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await sender
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    print(
        f"{frames} frames x {per_frame} trades: {total / elapsed:,.0f} trades/s, "
        f"{sink.batches} batches ({total / sink.batches:,.1f} trades per batch)"
    )


async def _main(frames: int, per_frame: int) -> None:
    with AlpacaStreamStandIn() as server:
        await _case(server, frames, per_frame)
        await _case(server, frames * per_frame // 10, 10)
        await _case(server, min(frames * per_frame, 5000), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--per-frame", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(_main(args.frames, args.per_frame))


if __name__ == "__main__":
    main()
