"""Benchmark: MQTT ingestion of tick frames and headlines through a real Mosquitto.

Run: `python -m bench.mqtt_ingest [--host 127.0.0.1 --port 1883] [--seconds 5]
[--frames 200 --trades 1000 --news 100]`. Prints one line of figures per measure:

- ingest: a publisher process sends `--frames` tick frames of `--trades` trades a second (200 x
  1,000 = 200,000 trades/s) and `--news` QoS 1 headlines a second for `--seconds`, to an
  `MqttFeed` with a counting sink in this process; trades/s and headlines/s received, and what
  arrived against what was published (none may be lost);
- decode: `decode_trades` per trade on one frame, `decode_news` per headline (warm);
- latency: aiomqtt publisher -> broker -> aiomqtt subscriber, one message at a time, TCP_NODELAY
  on both clients, p50/p99 one way — the floor under any headline's reaction time.

Use a broker with `set_tcp_nodelay true` for the latency line (the machine's broker may not set
it; `--own-broker` starts one that does, from `tests/support/mosquitto.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import time
import uuid
from typing import Any

import numpy as np
import orjson

from engine.feeds.base import TradeBatch
from engine.news import NewsItem

NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
T0 = 1_714_681_864_000_000_000


def make_frame(seq: int, trades: int) -> bytes:
    """One frame of `trades` trades over 40 symbols, in time order."""
    rng = np.random.default_rng(seq)
    return orjson.dumps(
        {
            "symbol": [f"SYM{i % 40}" for i in range(trades)],
            "price": np.round(rng.uniform(10, 500, trades), 2).tolist(),
            "size": rng.integers(1, 1000, trades).tolist(),
            "ts": (T0 + seq * 10_000_000 + np.arange(trades) * 1000).tolist(),
        }
    )


def make_headline(seq: int) -> bytes:
    return orjson.dumps(
        {
            "id": f"bench-{seq}",
            "headline": f"Company {seq % 97} beats estimates and raises guidance",
            "summary": "Quarterly results above expectations.",
            "created_at": "2024-05-02T20:31:04Z",
            "symbols": [f"SYM{seq % 40}"],
            "source": "bench",
        }
    )


def publish_process(
    host: str, port: int, prefix: str, seconds: float, fps: int, trades: int, nps: int, out: Any
) -> None:
    """Publish frames and headlines at a steady pace; report how many went out."""

    async def go() -> tuple[int, int, float]:
        import aiomqtt

        payloads = [make_frame(i, trades) for i in range(50)]
        frames = news = 0
        async with aiomqtt.Client(
            host, port, identifier=f"bench-pub-{uuid.uuid4().hex[:8]}", socket_options=NODELAY
        ) as client:
            start = time.perf_counter()
            step = 0.01  # publish in 10 ms slots
            slot = 0
            while (now := time.perf_counter() - start) < seconds:
                due_frames = int(fps * min(now + step, seconds))
                due_news = int(nps * min(now + step, seconds))
                while frames < due_frames:
                    await client.publish(f"{prefix}/ticks/us", payloads[frames % 50], qos=0)
                    frames += 1
                while news < due_news:
                    await client.publish(f"{prefix}/news/x", make_headline(news), qos=1)
                    news += 1
                slot += 1
                await asyncio.sleep(max(0.0, start + slot * step - time.perf_counter()))
            return frames, news, time.perf_counter() - start

    out.put(asyncio.run(go()))


class CountingSink:
    """A `FeedSink` that only counts, and notes when the first and last events came."""

    def __init__(self) -> None:
        self.n_trades = 0
        self.n_news = 0
        self.n_bad = 0
        self.first = 0.0
        self.last = 0.0
        self.connected = asyncio.Event()

    def _stamp(self) -> None:
        now = time.perf_counter()
        if not self.first:
            self.first = now
        self.last = now

    def news(self, item: NewsItem) -> None:
        self.n_news += 1
        self._stamp()

    def trades(self, batch: TradeBatch) -> None:
        self.n_trades += len(batch)
        self._stamp()

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        self.n_bad += 1

    def connection(self, feed: str, connected: bool) -> None:
        if connected:
            self.connected.set()


async def ingest(host: str, port: int, args: argparse.Namespace) -> None:
    from engine.clock import LiveClock
    from engine.feeds.mqtt import MqttFeed
    from engine.settings import MqttSettings

    prefix = f"spillover-bench/{uuid.uuid4().hex[:8]}"
    settings = MqttSettings(
        host=host,
        port=port,
        client_id=f"bench-{uuid.uuid4().hex[:8]}",
        news_topic=f"{prefix}/news/#",
        ticks_topic=f"{prefix}/ticks/#",
        session_expiry_s=0,
    )
    feed = MqttFeed(settings, LiveClock(), name="bench")
    sink = CountingSink()
    task = asyncio.create_task(feed.run(sink))
    try:
        await asyncio.wait_for(sink.connected.wait(), 10)
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        proc = ctx.Process(
            target=publish_process,
            args=(host, port, prefix, args.seconds, args.frames, args.trades, args.news, out),
        )
        cpu0 = time.process_time()
        proc.start()
        frames, news, elapsed = await asyncio.to_thread(out.get)
        await asyncio.to_thread(proc.join)
        want = frames * args.trades
        deadline = time.monotonic() + 10
        while (sink.n_trades < want or sink.n_news < news) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # draining: bounded by the deadline
        cpu = time.process_time() - cpu0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    span = max(sink.last - sink.first, 1e-9)
    print(
        f"ingest: published {frames} frames x {args.trades} = {want:,} trades + {news} headlines"
        f" in {elapsed:.2f} s; received {sink.n_trades:,} trades ({sink.n_trades / span:,.0f}/s),"
        f" {sink.n_news} headlines ({sink.n_news / span:,.1f}/s), lost {want - sink.n_trades:,} trades"
        f" and {news - sink.n_news} headlines, bad {sink.n_bad}, feed CPU {cpu / span:.0%} of a core"
    )


def decode_costs(trades: int) -> None:
    from engine.feeds.decode import decode_news, decode_trades

    frame = make_frame(1, trades)
    batch = decode_trades(frame, 0)
    assert len(batch) == trades and bool((np.diff(batch.ts) >= 0).all())
    for _ in range(50):
        decode_trades(frame, 0)
    n = 500
    start = time.perf_counter()
    for _ in range(n):
        decode_trades(frame, 0)
    per_frame = (time.perf_counter() - start) / n
    headline = make_headline(1)
    assert decode_news(headline, 0).id == "bench-1"
    m = 20000
    start = time.perf_counter()
    for _ in range(m):
        decode_news(headline, 0)
    per_news = (time.perf_counter() - start) / m
    print(
        f"decode: {per_frame / trades * 1e9:.0f} ns/trade ({per_frame * 1e6:.0f} µs per"
        f" {trades:,}-trade frame of {len(frame):,} bytes), {per_news * 1e6:.2f} µs/headline"
    )


async def latency(host: str, port: int, samples: int) -> None:
    import aiomqtt

    topic = f"spillover-bench/{uuid.uuid4().hex[:8]}/lat"
    delays: list[int] = []
    async with (
        aiomqtt.Client(host, port, socket_options=NODELAY) as sub,
        aiomqtt.Client(host, port, socket_options=NODELAY) as pub,
    ):
        await sub.subscribe(topic, qos=0)
        messages = sub.messages
        for i in range(samples + 100):
            await pub.publish(topic, str(time.perf_counter_ns()).encode(), qos=0)
            message = await asyncio.wait_for(anext(messages), 5)
            assert isinstance(message.payload, bytes)
            if i >= 100:  # warm-up
                delays.append(time.perf_counter_ns() - int(message.payload))
    d = np.array(delays) / 1e6
    print(
        f"latency: aiomqtt pub -> broker -> sub one way, TCP_NODELAY on the clients:"
        f" p50 {np.percentile(d, 50):.3f} ms, p99 {np.percentile(d, 99):.3f} ms,"
        f" max {d.max():.3f} ms (n={len(d)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--own-broker", action="store_true", help="start a private mosquitto")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--frames", type=int, default=200, help="tick frames a second")
    parser.add_argument("--trades", type=int, default=1000, help="trades a frame")
    parser.add_argument("--news", type=int, default=100, help="headlines a second")
    parser.add_argument("--samples", type=int, default=2000, help="latency samples")
    args = parser.parse_args()

    async def run(host: str, port: int) -> None:
        await ingest(host, port, args)
        decode_costs(args.trades)
        await latency(host, port, args.samples)

    if args.own_broker:
        from tests.support.mosquitto import Mosquitto

        with Mosquitto() as broker:
            print(f"broker: private mosquitto on {broker.host}:{broker.port} (set_tcp_nodelay)")
            asyncio.run(run(broker.host, broker.port))
    else:
        print(f"broker: {args.host}:{args.port}")
        asyncio.run(run(args.host, args.port))


if __name__ == "__main__":
    main()
