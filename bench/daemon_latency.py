"""Benchmark: the daemon's news-to-order latency through a real Mosquitto under a busy tape.

Run: `python -m bench.daemon_latency [--seconds 10] [--trades-per-s 200000] [--news-per-s 100]`.

A private Mosquitto (`set_tcp_nodelay true`) on a free port; the daemon (MQTT feed, engine,
`shock_hedge`, simulated broker, SQLite journal) in this process; a publisher in another
process sends tick frames of 1,000 trades and headlines (real ones from
`tests/data/headlines_holdout.jsonl`, each id carrying its publish time) at the given rates.
Prints, one line each:
- the broker floor measured in the same run: aiomqtt publisher → Mosquitto → aiomqtt subscriber,
  one way, TCP_NODELAY on both clients;
- news-to-order: MQTT receipt (the feed's `ts_init`) → the broker's submit call, first order of
  each headline that traded;
- publish → submit end to end;
- counts in vs processed (trades, headlines): nothing may be lost.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import pstats
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
HEADLINES = ROOT / "tests" / "data" / "headlines_holdout.jsonl"
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def _pcts(values_ns: list[int]) -> str:
    us = np.asarray(values_ns, dtype=np.float64) / 1e3
    if us.size == 0:
        return "no samples"
    p50, p99, pmax = np.percentile(us, [50, 99, 100])
    return f"p50 {p50:,.0f} µs  p99 {p99:,.0f} µs  max {pmax:,.0f} µs  (n={us.size:,})"


async def broker_floor(host: str, port: int, n: int = 2000) -> list[int]:
    """One-way latency of small messages between two aiomqtt clients through the broker."""
    import aiomqtt

    got: asyncio.Queue[int] = asyncio.Queue()
    samples: list[int] = []
    async with (
        aiomqtt.Client(host, port, identifier="floor-sub", socket_options=NODELAY) as sub,
        aiomqtt.Client(host, port, identifier="floor-pub", socket_options=NODELAY) as pub,
    ):
        await sub.subscribe("floor/#", qos=1)

        async def listen() -> None:
            async for message in sub.messages:
                sent = int(bytes(message.payload))  # type: ignore[arg-type]
                await got.put(time.time_ns() - sent)

        task = asyncio.create_task(listen())
        for _ in range(n):
            await pub.publish("floor/x", str(time.time_ns()).encode(), qos=1)
            samples.append(await asyncio.wait_for(got.get(), 5))
        task.cancel()
    return samples[n // 10 :]  # the first tenth warms up


def publisher(host: str, port: int, seconds: float, trades_per_s: int, news_per_s: int,
              symbols: list[str], out: Any, pin: set[int] | None = None) -> None:  # fmt: skip
    """Publish tick frames and headlines at fixed rates (runs in its own process)."""
    if pin is not None:
        os.sched_setaffinity(0, pin)

    async def go() -> None:
        import aiomqtt

        heads = [orjson.loads(x)["headline"] for x in HEADLINES.read_bytes().splitlines() if x]
        frame_size = 1000
        frames_per_s = max(1, trades_per_s // frame_size)
        rng = np.random.default_rng(1)
        n_frames = n_news = 0
        async with aiomqtt.Client(host, port, identifier="bench-pub", socket_options=NODELAY) as c:
            t0 = time.perf_counter()
            tick = 1.0 / max(frames_per_s, news_per_s)
            while (elapsed := time.perf_counter() - t0) < seconds:
                want_frames = int(elapsed * frames_per_s) + 1
                while n_frames < want_frames:
                    pick = rng.integers(0, len(symbols), frame_size)
                    now = time.time_ns()
                    body = {
                        "symbol": [symbols[i] for i in pick],
                        "price": np.round(100 + rng.normal(0, 0.05, frame_size), 2).tolist(),
                        "size": [100] * frame_size,
                        "ts": [now] * frame_size,
                    }
                    await c.publish("bench/ticks/all", orjson.dumps(body))
                    n_frames += 1
                want_news = int(elapsed * news_per_s) + 1
                while n_news < want_news:
                    text = heads[n_news % len(heads)]
                    nid = f"b{n_news}-{time.time_ns()}"
                    await c.publish("bench/news/x", orjson.dumps({"id": nid, "headline": text}),
                                    qos=1)  # fmt: skip
                    n_news += 1
                await asyncio.sleep(tick / 2)
        out.put((n_frames * frame_size, n_news))

    asyncio.run(go())


async def run_daemon(host: str, port: int, args: argparse.Namespace) -> None:
    from engine.clock import LiveClock
    from engine.feeds.mqtt import MqttFeed
    from engine.journal import Journal
    from engine.live.node import LiveNode
    from engine.live.sim_broker import SimBroker
    from engine.news import NewsItem
    from engine.orders import OrderIntent
    from engine.scoring import Scorer
    from engine.settings import load_settings
    from engine.strategy import make_strategy

    tmp = Path(tempfile.mkdtemp(prefix="spillover-bench-"))
    settings = load_settings(
        None,
        daemon={"state_dir": tmp, "feeds": ("mqtt",), "keep_warm_ms": args.keep_warm_ms},
        http={"enabled": False},
        scoring={"duplicate_factor": 1.0},  # headlines repeat in a long run: keep trading them
        risk={"max_orders_per_minute": 10**9, "daily_loss_limit": 1e12},
        broker={"max_symbol_notional": 1e12, "max_gross_notional": 1e15},
        mqtt={"host": host, "port": port, "client_id": "bench-daemon",
              "news_topic": "bench/news/#", "ticks_topic": "bench/ticks/#"},
    )  # fmt: skip
    scorer = Scorer.load(None, settings.scoring)
    scorer.score("warm-up", novelty=False)
    clock = LiveClock()
    broker = SimBroker(settings.broker, clock)
    feed = MqttFeed(settings.mqtt, clock)
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1e12)], [feed], broker,
        Journal(tmp / "journal.sqlite"), clock=clock,
    )  # fmt: skip
    receipt: dict[str, int] = {}
    first_submit: dict[str, int] = {}
    steps = _Steps(node, scorer) if args.steps else None
    news_in = node.news
    submit = broker.submit

    profile = cProfile.Profile() if args.profile else None

    def on_news(item: NewsItem) -> None:
        receipt[item.id] = item.ts_init
        if steps is not None:
            steps.start(item)
        if profile is not None:
            profile.enable()
        news_in(item)
        if profile is not None:
            profile.disable()
        if steps is not None:
            steps.end()

    def on_submit(intent: OrderIntent, position: float = 0.0) -> bool:
        first_submit.setdefault(intent.news_id, time.time_ns())
        if steps is not None:
            steps.point("submit")
        return submit(intent, position)

    node.news = on_news  # type: ignore[method-assign]
    broker.submit = on_submit  # type: ignore[method-assign]
    symbols = sorted({c.symbol for c in scorer.universe.companies})
    # warm the strategy and the venue once, off the clock, so JIT and first calls are not timed
    await node.start()
    if args.fifo:  # the event loop at real-time priority, as `chrt -f N spillover run` runs it
        policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK  # the publisher keeps the default
        os.sched_setscheduler(0, policy, os.sched_param(args.fifo))
    stop = asyncio.Event()
    task = asyncio.create_task(node.run(stop))
    while not node.connected.get("mqtt"):
        await asyncio.sleep(0.01)
    floor = await broker_floor(host, port)
    print(f"broker floor (aiomqtt → Mosquitto → aiomqtt, TCP_NODELAY, one way): {_pcts(floor)}")
    out: Any = mp.get_context("spawn").Queue()
    pin = {0} if args.pin else None
    proc = mp.get_context("spawn").Process(
        target=publisher,
        args=(
            host,
            port,
            args.seconds,
            args.trades_per_s,
            args.news_per_s,
            symbols,
            out,
            pin,
        ),
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    proc.start()
    trades_sent, news_sent = await asyncio.to_thread(out.get)
    await asyncio.to_thread(proc.join)
    deadline = time.monotonic() + 30
    while (node.counters.trades < trades_sent or node.counters.news < news_sent) and (
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.05)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    stop.set()
    await task
    await node.close()
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    if steps is not None:
        steps.report()
    ids = [i for i in first_submit if i in receipt]
    to_order = [first_submit[i] - receipt[i] for i in ids]
    end_to_end = [first_submit[i] - int(i.split("-")[1]) for i in ids]
    print(
        f"load: {trades_sent:,} trades in frames of 1,000 and {news_sent:,} headlines over "
        f"{args.seconds:.0f} s ({trades_sent / args.seconds:,.0f} trades/s, "
        f"{news_sent / args.seconds:,.0f} headlines/s); drained in {took:.1f} s"
    )
    print(
        f"daemon CPU: {cpu:.2f} s in {took:.1f} s ({cpu / took:.0%} of a core), of which "
        f"{node.rehearsal.runs:,} rehearsals (daemon.keep_warm_ms = {args.keep_warm_ms:g})"
    )
    print(f"news-to-order (MQTT receipt → broker submit call): {_pcts(to_order)}")
    print(f"publish → submit, end to end: {_pcts(end_to_end)}")
    print(
        f"counts: trades in {trades_sent:,} / processed {node.counters.trades:,}; headlines in "
        f"{news_sent:,} / processed {node.counters.news:,} ({len(ids):,} traded); "
        f"bad {node.counters.bad_messages}"
    )


class _Steps:
    """`--steps`: stamps along a headline's path to its first order, taken by wrapping the
    node's parts (the wrappers add about a microsecond a step)."""

    ORDER = (
        ("receipt", "news"), ("news", "journaled"), ("journaled", "score"),
        ("score", "kernel done"), ("kernel done", "scored"), ("scored", "on_shock"),
        ("on_shock", "weights done"), ("weights done", "order intent"),
        ("order intent", "send"), ("send", "risk checked"), ("risk checked", "order journaled"),
        ("order journaled", "submit"),
    )  # fmt: skip

    def __init__(self, node: Any, scorer: Any) -> None:
        self.done: list[dict[str, int]] = []
        self.now: dict[str, int] | None = None
        strategy = node.engine._slots[node.engine.strategy_ids[0]].strategy
        self._wrap(node.journal, "record_news", None, "journaled")
        self._wrap(scorer, "score", "score", "scored")
        self._wrap(scorer, "_shock_from_row", "kernel done", None)
        self._wrap(strategy, "on_shock", "on_shock", None)
        self._wrap(strategy, "weights", None, "weights done")
        self._wrap(node, "send", "send", None)
        self._wrap(node.risk, "check", None, "risk checked")
        self._wrap(node.journal, "record_intent", None, "order journaled")
        submit_intent = strategy.ctx.submit_intent

        def on_intent(intent: Any) -> None:
            self.point("order intent")
            submit_intent(intent)

        strategy.ctx.submit_intent = on_intent

    def _wrap(self, obj: Any, name: str, before: str | None, after: str | None) -> None:
        method = getattr(obj, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if before:
                self.point(before)
            out = method(*args, **kwargs)
            if after:
                self.point(after)
            return out

        setattr(obj, name, wrapped)

    def start(self, item: Any) -> None:
        # the receipt stamp is wall time (time_ns); the rest are perf_counter_ns
        self.now = {"receipt": time.perf_counter_ns() - (time.time_ns() - item.ts_init)}
        self.point("news")

    def point(self, name: str) -> None:
        if self.now is not None and name not in self.now:
            self.now[name] = time.perf_counter_ns()

    def end(self) -> None:
        if self.now is not None and "submit" in self.now:
            self.done.append(self.now)
        self.now = None

    def report(self) -> None:
        print(f"steps to the first order (p50 / p90 µs over {len(self.done):,} headlines):")
        for a, b in self.ORDER:
            gaps = [r[b] - r[a] for r in self.done if a in r and b in r]
            if gaps:
                p50, p90 = np.percentile(np.asarray(gaps) / 1e3, [50, 90])
                print(f"  {a:>16} → {b:<16} {p50:7.1f} {p90:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--trades-per-s", type=int, default=200_000)
    parser.add_argument("--news-per-s", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="cProfile the headline path")
    parser.add_argument(
        "--steps", action="store_true", help="time each step from receipt to the first order"
    )
    parser.add_argument(
        "--keep-warm-ms", type=float, default=1.0,
        help="daemon.keep_warm_ms: rehearse the headline path this often while idle (0: off)",
    )  # fmt: skip
    parser.add_argument(
        "--fifo", type=int, default=0, metavar="N",
        help="run the daemon's loop at SCHED_FIFO priority N (needs root or CAP_SYS_NICE)",
    )  # fmt: skip
    parser.add_argument(
        "--pin", action="store_true", help="daemon alone on core 1; broker and publisher on core 0"
    )
    args = parser.parse_args()
    from tests.support.mosquitto import Mosquitto

    with tempfile.TemporaryDirectory() as data, Mosquitto(Path(data)) as broker:
        if args.pin:  # the daemon on core 1; the broker and the publisher share core 0
            os.sched_setaffinity(0, {1})
            if broker.pid is not None:
                os.sched_setaffinity(broker.pid, {0})
        asyncio.run(run_daemon(broker.host, broker.port, args))


if __name__ == "__main__":
    main()
