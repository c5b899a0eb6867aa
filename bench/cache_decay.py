"""Benchmark: how idle time cools the headline path, and what rehearsals win back.

Run: `python -m bench.cache_decay [--rounds 3]`.

One process, no broker, no tick load: a daemon node (journal, scorer, `shock_hedge`, simulated
broker) takes the 110 real headlines of `tests/data/headlines_holdout.jsonl` through
`LiveNode.news`, and the time from the call to the broker's submit call (the first order) is
taken per headline. Between headlines it either goes straight on, or waits (asleep, as an
event loop does when nothing comes) 1 ms or 10 ms, with or without a rehearsal
(`engine.live.warm`) every millisecond of the wait. Prints p50 and p90 per mode, and the same
for `Scorer.score` alone. Figures in BENCHMARKS.md (daemon latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HEADLINES = ROOT / "tests" / "data" / "headlines_holdout.jsonl"

# name: (milliseconds asleep before each headline, rehearse after each millisecond)
MODES: dict[str, tuple[int, bool]] = {
    "back to back": (0, False),
    "1 ms asleep": (1, False),
    "10 ms asleep": (10, False),
    "10 ms asleep, rehearsal every 1 ms": (10, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the headlines per mode")
    args = parser.parse_args()

    from engine.clock import LiveClock
    from engine.feeds.base import TradeBatch
    from engine.journal import Journal
    from engine.live.node import LiveNode
    from engine.live.sim_broker import SimBroker
    from engine.news import NewsItem
    from engine.orders import OrderIntent
    from engine.scoring import Scorer
    from engine.settings import load_settings
    from engine.strategy import make_strategy

    tmp = Path(tempfile.mkdtemp(prefix="spillover-decay-"))
    settings = load_settings(
        None,
        daemon={"state_dir": tmp, "feeds": ("mqtt",), "keep_warm_ms": 0},
        http={"enabled": False},
        scoring={"duplicate_factor": 1.0},
        risk={"max_orders_per_minute": 10**9, "daily_loss_limit": 1e12},
        broker={"max_symbol_notional": 1e12, "max_gross_notional": 1e15},
    )
    scorer = Scorer.load(None, settings.scoring)
    clock = LiveClock()
    broker = SimBroker(settings.broker, clock)
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1e12)], [], broker,
        Journal(tmp / "journal.sqlite"), clock=clock,
    )  # fmt: skip
    asyncio.run(node.start())
    symbols = sorted({c.symbol for c in scorer.universe.companies})
    now = time.time_ns()
    n = len(symbols)
    node.trades(
        TradeBatch(symbols=symbols, ts=np.full(n, now, np.int64), price=np.full(n, 100.0),
                   size=np.ones(n), ts_init=now)
    )  # fmt: skip
    headlines = [json.loads(line)["headline"] for line in HEADLINES.read_text().splitlines()]
    submitted: list[int] = []
    submit = broker.submit

    def on_submit(intent: OrderIntent, position: float = 0.0) -> bool:
        submitted.append(time.perf_counter_ns())
        return submit(intent, position)

    broker.submit = on_submit  # type: ignore[method-assign]
    serial = iter(range(10**9))

    def wait(ms: int, rehearse: bool) -> None:
        for _ in range(ms):
            time.sleep(0.001)
            if rehearse:
                node.rehearsal.run()

    def through_node(ms: int, rehearse: bool) -> list[float]:
        out = []
        for _ in range(args.rounds):
            for text in headlines:
                wait(ms, rehearse)
                k = next(serial)
                item = NewsItem(id=f"h{k}", headline=text, ts_event=time.time_ns(), ts_init=0)
                del submitted[:]
                t0 = time.perf_counter_ns()
                node.news(item)
                if submitted:
                    out.append((submitted[0] - t0) / 1e3)
        return out

    def scorer_alone(ms: int, rehearse: bool) -> list[float]:
        out = []
        for _ in range(args.rounds):
            for text in headlines:
                wait(ms, rehearse)
                item = NewsItem(id="x", headline=text, ts_event=time.time_ns(), ts_init=0)
                t0 = time.perf_counter_ns()
                scorer.score(item, novelty=False)
                out.append((time.perf_counter_ns() - t0) / 1e3)
        return out

    through_node(0, False)  # warm-up: first calls, JIT caches
    runs: list[tuple[str, Callable[[int, bool], list[float]]]] = [
        ("headline → first order (LiveNode.news)", through_node),
        ("Scorer.score alone", scorer_alone),
    ]
    for title, measure in runs:
        print(title)
        for name, (ms, rehearse) in MODES.items():
            us = np.asarray(measure(ms, rehearse))
            p50, p90 = np.percentile(us, [50, 90])
            print(f"  {name:36s} p50 {p50:7.1f} µs   p90 {p90:7.1f} µs   (n={us.size})")
    node.journal.close()


if __name__ == "__main__":
    main()
