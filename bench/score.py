"""Benchmark: headline scoring latency and throughput, start-up time, and VADER beside it.

Run: `python -m bench.score [--news PATH] [--repeat N]`. Prints one line of figures per measure.
Uses the real 2014-2016 headlines in ../shared/data/stocknet/news.jsonl by default.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NEWS = ROOT.parent / "shared" / "data" / "stocknet" / "news.jsonl"

STARTUP = (
    "import time; t=time.perf_counter(); from engine.scoring import Scorer; s=Scorer.load(); "
    "s.score('Cisco to buy Splunk'); print(time.perf_counter()-t)"
)


def startup_seconds(runs: int = 3) -> list[float]:
    """Wall time of import + load universe + compile + first score, in fresh processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = []
    for _ in range(runs):
        res = subprocess.run(
            [sys.executable, "-c", STARTUP], capture_output=True, text=True, env=env, check=True
        )
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--news", type=Path, default=DEFAULT_NEWS)
    parser.add_argument("--repeat", type=int, default=10, help="batch passes over the headlines")
    parser.add_argument("--single", type=int, default=20000, help="headlines timed one at a time")
    parser.add_argument("--no-vader", action="store_true")
    parser.add_argument(
        "--cpu", type=int, default=None, help="pin the process to this core (default: no pinning)"
    )
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    from engine.news import news_from_mapping
    from engine.scoring import Scorer

    rows = [orjson.loads(x) for x in args.news.read_bytes().splitlines() if x.strip()]
    items = [news_from_mapping(r) for r in rows]
    print(f"headlines: {len(items)} from {args.news}")

    starts = startup_seconds()
    print(
        f"start-up (import + load + compile + first score, fresh process): "
        f"min {min(starts):.2f}s median {sorted(starts)[1]:.2f}s"
    )

    scorer = Scorer.load()
    scorer.score_batch(items[:100])  # JIT warm-up
    total = 0
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        scorer.reset_novelty()
        batch = scorer.score_batch(items)
        total += len(batch)
    dt = time.perf_counter() - t0
    n_legs = int(batch.out.n_shocks.sum())
    print(
        f"batch: {total / dt:,.0f} headlines/s on one core ({total} headlines, {dt:.2f}s; "
        f"{n_legs} legs in the last pass; arrays out, no Shock objects)"
    )

    t0 = time.perf_counter()
    shocks = scorer.score_batch(items).shocks()
    dt = time.perf_counter() - t0
    print(f"batch with Shock objects: {len(shocks) / dt:,.0f} headlines/s")

    lat = np.empty(min(args.single, len(items) * 3))
    scorer.reset_novelty()
    for k in range(lat.shape[0]):
        item = items[k % len(items)]
        t = time.perf_counter_ns()
        scorer.score(item)
        lat[k] = time.perf_counter_ns() - t
    p50, p99, p999 = np.percentile(lat, [50, 99, 99.9]) / 1000
    print(
        f"single headline end to end (text in, Shock out): p50 {p50:.1f} µs  p99 {p99:.1f} µs  "
        f"p99.9 {p999:.1f} µs  max {lat.max() / 1000:.1f} µs over {lat.shape[0]} calls"
    )

    if not args.no_vader:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError:
            print("VADER: not installed (pip install -e '.[bench]')")
            return
        vader = SentimentIntensityAnalyzer()
        texts = [r["headline"] for r in rows]
        t0 = time.perf_counter()
        for text in texts:
            vader.polarity_scores(text)
        dt = time.perf_counter() - t0
        print(f"VADER on the same headlines: {len(texts) / dt:,.0f} headlines/s")


if __name__ == "__main__":
    main()
