"""Benchmark: the event-driven backtest on a synthetic market (scoring, strategy, venue: everything).

Run: `python -m bench.backtest [--days 50 --symbols 100 --headlines-per-day 400]` (defaults: the
issue's task, about 10 million trades over 100 symbols and 20,000 headlines). Prints the data
generation time, the replay's trades per second on one core, and the peak memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=50)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--headlines-per-day", type=float, default=400.0)
    parser.add_argument("--trades-per-day", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from backtests.data import load_market, load_news
    from backtests.metrics import event_table, summary
    from backtests.runner import run_backtest
    from backtests.synth import generate
    from engine.scoring import Scorer
    from engine.strategy import make_strategy

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        made = generate(
            Path(tmp), args.seed, args.days, args.symbols,
            headlines_per_day=args.headlines_per_day, trades_per_symbol_per_day=args.trades_per_day,
        )  # fmt: skip
        print(f"synth: {made.n_trades:,} trades, {made.n_news:,} headlines over {len(made.symbols)} symbols "
              f"in {time.perf_counter() - t0:.1f}s")  # fmt: skip
        t0 = time.perf_counter()
        news = load_news(made.news_path)
        trades = load_market(made.trades_path).frame
        print(f"load: {time.perf_counter() - t0:.2f}s")
        scorer = Scorer.load()
        scorer.score("warm-up")
        strategy = make_strategy("shock_hedge")
        t0 = time.perf_counter()
        result = run_backtest(news, trades, [strategy], scorer)
        replay = time.perf_counter() - t0
        t0 = time.perf_counter()
        events = event_table(result, trades)
        figures = summary(result, events, 1_000_000.0)
        report = time.perf_counter() - t0
        from backtests.sweep import prepare, run_grid

        t0 = time.perf_counter()
        inputs = prepare(news, trades, scorer)
        prep = time.perf_counter() - t0
        t0 = time.perf_counter()
        holds = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200]
        grid = run_grid(inputs, [0.1, 0.15, 0.2, 0.3, 0.4], holds, ["none", "mean"])
        sweep_s = time.perf_counter() - t0
    print(
        f"sweep: {grid.height} settings in {sweep_s:.2f}s on all cores (+{prep:.2f}s scoring and layout once)"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"replay: {made.n_trades / replay:,.0f} trades/s on one core ({replay:.2f}s for "
          f"{made.n_trades:,} trades and {made.n_news:,} headlines; {figures['n_trades']} fills)")  # fmt: skip
    print(
        f"metrics (realised moves, IC): {report:.2f}s; peak memory of the process {peak_mb:,.0f} MB"
    )
    ic = figures["ic"]
    print(
        f"IC subject {ic['subject']}  spillover {ic['spillover']}  total_return {figures['total_return']:+.4f}"
    )  # type: ignore[index]
    print("vectorbt: not run here (optional `bench` extra, not installed)")


if __name__ == "__main__":
    main()
