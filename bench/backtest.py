"""Benchmark: the event-driven backtest on a synthetic market (scoring, strategy, venue: everything).

Run: `python -m bench.backtest [--days 50 --symbols 100 --headlines-per-day 400]` (defaults: the
issue's task, about 10 million trades over 100 symbols and 20,000 headlines).

Each stage runs in a fresh process of its own, so its peak memory (max RSS) is its own: making
the market, compiling the kernels (or loading them from numba's cache), the event-driven replay
(loading, warm-up, replay, metrics), the sweep of 100 settings, and the same replay task
through vectorbt (`pip install -e '.[bench]'`). Prints one line per stage and the replay
beside vectorbt.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOLDS_S = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200]
THRESHOLDS = [0.1, 0.15, 0.2, 0.3, 0.4]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def host_speed() -> float:
    """Seconds for a fixed pure-Python loop (10 M additions, best of 3): the replay is mostly
    Python, so this tells how fast this host runs it today (shared machines vary by 3x)."""
    best = math.inf
    for _ in range(3):
        t0, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def interpreter() -> str:
    """Which Python runs the stages, and how it was built: the replay is mostly Python, and a
    build with profile-guided optimisation and a static libpython (Debian's `python3.11`, for
    one) runs it about 13% faster than one without (a default pyenv build: `--enable-shared`,
    no PGO); see BENCHMARKS.md."""
    try:  # what is loaded, not how it was configured (Debian configures both, runs static)
        linked = "shared" if "/libpython3" in Path("/proc/self/maps").read_text() else "static"
    except OSError:  # not Linux
        linked = "unknown"
    return f"Python {platform.python_version()} ({sys.executable}, libpython {linked})"


def stage_synth(args: argparse.Namespace) -> dict[str, Any]:
    """Write the synthetic market and news."""
    from backtests.synth import generate

    t0 = time.perf_counter()
    made = generate(
        Path(args.data), args.seed, args.days, args.symbols,
        headlines_per_day=args.headlines_per_day, trades_per_symbol_per_day=args.trades_per_day,
    )  # fmt: skip
    return {
        "seconds": time.perf_counter() - t0,
        "n_trades": made.n_trades,
        "n_news": made.n_news,
        "n_symbols": len(made.symbols),
    }


def warm_up(news: Any, tape: Any, scorer: Any, strategy: Any = None) -> None:
    """A replay of the first 5% of the trades (at least 20,000) and the headlines received
    before the last of them, through `strategy` (default: a new `shock_hedge`): compiles the
    kernels, or loads them from numba's cache. As long a stretch as this reaches every path
    the full replay takes (late entry fills, the risk check's gross sum, ...): none is left to
    load during the timed runs. Imports nothing at module level (`bench.replay_ab` runs it
    against old checkouts)."""
    import polars as pl

    from backtests.runner import TradeTape, run_backtest
    from engine.strategy import make_strategy

    n = max(20_000, len(tape) // 20)
    head = TradeTape(tape.ts[:n], tape.slot[:n], tape.price[:n], tape.symbols)
    early = news.filter(pl.col("ts_event") < int(tape.ts[n - 1]))
    run_backtest(early, head, [strategy or make_strategy("shock_hedge")], scorer)


def stage_kernels(args: argparse.Namespace) -> dict[str, Any]:
    """The replay's warm-up alone: compiles the kernels, or loads them from numba's cache.

    The first run after an install or a kernel change compiles them (LLVM's memory included);
    done here first, the replay's process loads them as every later run does.
    """
    from backtests.data import load_news, load_tape
    from engine.scoring import Scorer

    t0 = time.perf_counter()
    data = Path(args.data)
    warm_up(load_news(data / "news.parquet"), load_tape(data / "trades.parquet"), Scorer.load())
    return {"seconds": time.perf_counter() - t0}


def stage_replay(args: argparse.Namespace) -> dict[str, Any]:
    """Load, warm up, replay through `shock_hedge`, then the metrics."""
    from backtests.data import load_news, load_tape
    from backtests.metrics import event_table, summary
    from backtests.runner import run_backtest
    from engine.scoring import Scorer
    from engine.strategy import make_strategy

    data = Path(args.data)
    t0 = time.perf_counter()
    news = load_news(data / "news.parquet")
    tape = load_tape(data / "trades.parquet")
    load_s = time.perf_counter() - t0
    scorer = Scorer.load()
    scorer.score("warm-up")
    warm_up(news, tape, scorer)  # the kernels load from the cache (`stage_kernels` made it)
    peak_before = _peak_mb()
    runs, cpu = [], []
    for _ in range(args.repeat):  # best of a few: the machine is shared
        result = None
        t0, c0 = time.perf_counter(), time.process_time()
        result = run_backtest(news, tape, [make_strategy("shock_hedge")], scorer)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    replay_s = min(runs)
    t0 = time.perf_counter()
    figures = summary(result, event_table(result, tape), 1_000_000.0)
    report_s = time.perf_counter() - t0
    ic = figures["ic"]
    return {
        "load_s": load_s,
        "replay_s": replay_s,
        "runs": runs,
        "cpu_s": min(cpu),
        "cpu_runs": cpu,
        "report_s": report_s,
        "n_trades": len(tape),
        "n_news": news.height,
        "fills": figures["n_trades"],
        "blocked": figures["blocked_orders"],
        "total_return": figures["total_return"],
        "ic": ic,
        "peak_before_replay_mb": peak_before,
    }


def stage_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Score and lay out once, then 100 settings over all cores."""
    from backtests.data import load_news, load_tape
    from backtests.sweep import prepare, run_grid
    from engine.scoring import Scorer

    data = Path(args.data)
    news = load_news(data / "news.parquet")
    tape = load_tape(data / "trades.parquet")
    scorer = Scorer.load()
    scorer.score("warm-up")
    t0 = time.perf_counter()
    inputs = prepare(news, tape, scorer)
    prep_s = time.perf_counter() - t0
    del tape
    t0 = time.perf_counter()
    grid = run_grid(inputs, THRESHOLDS, HOLDS_S, ["none", "mean"])
    sweep_s = time.perf_counter() - t0
    pick = grid.filter((grid["threshold"] == 0.15) & (grid["hold_s"] == 300.0))
    pnl = pick.filter(pick["hedge"] == "none")["pnl"][0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "settings": grid.height,
        "sweep_s": sweep_s,
        "prep_s": prep_s,
        "pnl_015_300_none": pnl,
        "worker_peak_mb": children,
    }


def stage_vectorbt(args: argparse.Namespace) -> dict[str, Any]:
    """The same replay task through `vectorbt.Portfolio.from_orders`.

    Headlines scored as in the replay; each leg at or above the threshold (at most 8 a
    headline, sizes proportional to score over a 100,000 gross, whole shares at the last price
    before receipt; vectorbt cannot express the volatility scaling and beta hedge of
    `shock_hedge`, so this is the sweep's "none" hedge) enters at the symbol's first trade at or
    after receipt + 50 ms and exits at the first trade at or after receipt + 300 s + 50 ms.
    One column per symbol on its own trade clock (a shared time index over 10 million distinct
    timestamps would need 10M x 100 cells per array); slippage 2 bp; fees 0.005 a share given
    as a per-cell fraction of price. Orders on the same trade net into one.
    """
    import numpy as np

    try:
        import vectorbt as vbt
    except ImportError as exc:
        return {"error": f"vectorbt not importable: {exc}"}
    from backtests.data import load_news, load_tape
    from backtests.sweep import Costs, prepare
    from engine.scoring import Scorer

    data = Path(args.data)
    news = load_news(data / "news.parquet")
    tape = load_tape(data / "trades.parquet")
    scorer = Scorer.load()
    scorer.score("warm-up")
    warm = np.full((4, 2), 10.0)
    vbt.Portfolio.from_orders(warm, np.array([[1.0, -1.0]] * 4), fees=0.001).total_profit()
    costs, threshold, hold_ns = Costs(), 0.15, 300 * 10**9
    n_trades = len(tape)
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pnl, by_hand, orders = _vectorbt_task(
            vbt, prepare(news, tape, scorer), costs, threshold, hold_ns
        )
        runs.append(time.perf_counter() - t0)
    return {
        "seconds": min(runs),
        "runs": runs,
        "n_trades": n_trades,
        "orders": orders,
        "pnl": pnl,
        "pnl_unnetted": by_hand,
        "version": vbt.__version__,
    }


def _vectorbt_task(
    vbt: Any, inp: Any, costs: Any, threshold: float, hold_ns: int
) -> tuple[float, float, int]:
    """Orders from the scored legs, then `from_orders`; see `stage_vectorbt`."""
    import numpy as np

    counts = np.diff(inp.sym_ptr)
    n_sym, n_rows = counts.shape[0], int(counts.max())
    # legs kept as the fast path keeps them: at or above the threshold with a trade before
    # receipt, then the first max_legs of each headline (in score order)
    per_news = np.diff(inp.leg_ptr)
    leg_news = np.repeat(np.arange(per_news.shape[0]), per_news)
    leg_slot, t_leg = inp.leg_slot, inp.news_ts[leg_news]
    before = np.full(leg_slot.shape[0], -1, np.int64)
    entry = np.zeros(leg_slot.shape[0], np.int64)
    exit_ = np.zeros(leg_slot.shape[0], np.int64)
    for s in np.unique(leg_slot):
        m = leg_slot == s
        ts_s = inp.sym_ts[inp.sym_ptr[s] : inp.sym_ptr[s + 1]]
        before[m] = np.searchsorted(ts_s, t_leg[m], side="left") - 1
        entry[m] = np.searchsorted(ts_s, t_leg[m] + costs.latency_ns, side="left")
        late = np.searchsorted(ts_s, t_leg[m] + hold_ns + costs.latency_ns, side="left")
        e = np.minimum(entry[m], ts_s.shape[0] - 1)
        again = np.searchsorted(ts_s, ts_s[e] + costs.latency_ns, side="left")
        exit_[m] = np.where(ts_s[e] >= t_leg[m] + hold_ns, again, late)
    kept = np.flatnonzero((np.abs(inp.leg_score) >= threshold) & (before >= 0))
    first = np.searchsorted(leg_news[kept], leg_news[kept], side="left")
    kept = kept[np.arange(kept.shape[0]) - first < costs.max_legs]
    news_i, slot, score = leg_news[kept], leg_slot[kept], inp.leg_score[kept]
    gross = np.bincount(news_i, np.abs(score), minlength=per_news.shape[0])
    notional = score * costs.gross / gross[news_i]
    p0 = inp.sym_px[inp.sym_ptr[slot] + before[kept]]
    qty = np.floor(np.abs(notional) / p0) * np.sign(notional)
    entry, exit_ = entry[kept], exit_[kept]
    ok = (entry < counts[slot]) & (qty != 0)
    slot, qty, entry, exit_ = slot[ok], qty[ok], entry[ok], exit_[ok]
    # (row, symbol) layout: each column is one symbol's trades, padded with its last price
    close = np.empty((n_rows, n_sym))
    for s in range(n_sym):
        px = inp.sym_px[inp.sym_ptr[s] : inp.sym_ptr[s + 1]]
        close[: px.shape[0], s] = px
        close[px.shape[0] :, s] = px[-1] if px.shape[0] else np.nan
    size = np.zeros((n_rows, n_sym))
    np.add.at(size, (entry, slot), qty)
    has_exit = exit_ < counts[slot]
    np.add.at(size, (exit_[has_exit], slot[has_exit]), -qty[has_exit])
    size[size == 0] = np.nan
    fees = costs.commission_per_share / close
    pf = vbt.Portfolio.from_orders(
        close, size, size_type="amount", direction="both", fees=fees,
        slippage=costs.slippage_bps * 1e-4, init_cash=1e12, freq="1s",
    )  # fmt: skip
    pnl = float(np.sum(pf.total_profit()))
    # the same orders unnetted, booked by hand: tells netting apart from a modelling difference
    side, slip, fee = np.sign(qty), costs.slippage_bps * 1e-4, costs.commission_per_share
    px_in = inp.sym_px[inp.sym_ptr[slot] + entry] * (1 + side * slip)
    last = inp.sym_px[inp.sym_ptr[slot + 1] - 1]
    ex = np.minimum(exit_, counts[slot] - 1)
    px_out = np.where(has_exit, inp.sym_px[inp.sym_ptr[slot] + ex] * (1 - side * slip), last)
    by_hand = float(np.sum(qty * (px_out - px_in) - np.abs(qty) * fee * (1 + has_exit)))
    return pnl, by_hand, int(np.isfinite(size).sum())


STAGES = {
    "synth": stage_synth,
    "kernels": stage_kernels,
    "replay": stage_replay,
    "sweep": stage_sweep,
    "vectorbt": stage_vectorbt,
}


def _run_stage(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one stage in a fresh interpreter; return its figures and its peak memory."""
    cmd = [sys.executable, "-m", "bench.backtest", "--stage", name, "--data", args.data]
    cmd += ["--days", str(args.days), "--symbols", str(args.symbols), "--seed", str(args.seed)]
    cmd += ["--headlines-per-day", str(args.headlines_per_day)]
    cmd += ["--trades-per-day", str(args.trades_per_day), "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=50)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--headlines-per-day", type=float, default=400.0)
    parser.add_argument("--trades-per-day", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--data", default="", help=argparse.SUPPRESS)
    parser.add_argument("--no-vectorbt", action="store_true", help="skip the vectorbt run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best is reported)")
    args = parser.parse_args()
    if args.stage:
        figures = STAGES[args.stage](args)
        figures["peak_mb"] = _peak_mb()
        print(json.dumps(figures))
        return

    print(f"host: a pure-Python loop of 10 M additions takes {host_speed():.2f} s here")
    print(f"interpreter: {interpreter()}")
    with tempfile.TemporaryDirectory() as tmp:
        args.data = tmp
        made = _run_stage("synth", args)
        if "error" in made:
            raise SystemExit(f"synth failed: {made['error']}")
        print(f"synth: {made['n_trades']:,} trades, {made['n_news']:,} headlines over "
              f"{made['n_symbols']} symbols in {made['seconds']:.1f}s (peak {made['peak_mb']:,.0f} MB)")  # fmt: skip
        warm = _run_stage("kernels", args)
        if "error" in warm:
            raise SystemExit(f"kernels failed: {warm['error']}")
        print(f"kernels: compiled or loaded from numba's cache in {warm['seconds']:.1f}s "
              f"(peak {warm['peak_mb']:,.0f} MB), so the replay below loads them from the cache")  # fmt: skip
        rep = _run_stage("replay", args)
        if "error" in rep:
            raise SystemExit(f"replay failed: {rep['error']}")
        rate = rep["n_trades"] / rep["replay_s"]
        print(f"replay: {rate:,.0f} trades/s on one core ({rep['replay_s']:.2f}s for "
              f"{rep['n_trades']:,} trades and {rep['n_news']:,} headlines; {rep['fills']} fills, "
              f"{rep['blocked']} blocked); peak memory of the process {rep['peak_mb']:,.0f} MB "
              f"(load {rep['load_s']:.2f}s, metrics {rep['report_s']:.2f}s; best of "
              f"{', '.join(f'{r:.2f}' for r in rep['runs'])} s)")  # fmt: skip
        print(f"replay, cpu time of the process (wall time less any wait for the core): "
              f"{rep['n_trades'] / rep['cpu_s']:,.0f} trades/s ({rep['cpu_s']:.2f}s; best of "
              f"{', '.join(f'{r:.2f}' for r in rep['cpu_runs'])} s)")  # fmt: skip
        ic = rep["ic"]
        print(f"IC subject {ic['subject']}  spillover {ic['spillover']}  "
              f"total_return {rep['total_return']:+.4f}")  # fmt: skip
        sw = _run_stage("sweep", args)
        if "error" in sw:
            print(f"sweep failed: {sw['error']}")
        else:
            print(f"sweep: {sw['settings']} settings in {sw['sweep_s']:.2f}s on all cores "
                  f"(+{sw['prep_s']:.2f}s scoring and layout once); peak {sw['peak_mb']:,.0f} MB, "
                  f"workers {sw['worker_peak_mb']:,.0f} MB")  # fmt: skip
        vb: dict[str, Any] = {"error": "skipped (--no-vectorbt)"}
        if not args.no_vectorbt:
            vb = _run_stage("vectorbt", args)
        print(f"{'':<28}{'trades/s':>14}{'seconds':>10}{'peak MB':>10}")
        print(f"{'spillover event-driven':<28}{rate:>14,.0f}{rep['replay_s']:>10.2f}"
              f"{rep['peak_mb']:>10,.0f}")  # fmt: skip
        if "error" in vb:
            print(f"{'vectorbt from_orders':<28}  not run: {vb['error']}")
        else:
            vrate = vb["n_trades"] / vb["seconds"]
            print(f"{'vectorbt ' + vb['version'] + ' from_orders':<28}{vrate:>14,.0f}"
                  f"{vb['seconds']:>10.2f}{vb['peak_mb']:>10,.0f}"
                  f"   (best of {', '.join(f'{r:.2f}' for r in vb['runs'])} s)")  # fmt: skip
            if "error" not in sw:
                exact = math.isclose(vb["pnl_unnetted"], sw["pnl_015_300_none"], rel_tol=1e-9)
                print(f"check: the vectorbt task's orders booked one by one make "
                      f"{vb['pnl_unnetted']:,.2f}, the sweep fast path {sw['pnl_015_300_none']:,.2f} "
                      f"({'same' if exact else 'DIFFERENT'}); vectorbt, netting orders that share "
                      f"a trade ({vb['orders']:,} orders), {vb['pnl']:,.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
