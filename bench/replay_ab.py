"""Compare two checkouts' backtest replays: the same results (a hash of everything the replay
produced) and which is faster, alternated on the same host.

Run: `python -m bench.replay_ab OLD_DIR NEW_DIR [--pairs 6] [--data DIR]`, e.g. with the old
side from `git worktree add /tmp/old <commit>`. Each side runs in a fresh process of its own
(`--side DIR`: load, warm up, three full replays of `shock_hedge`, the best one's cpu time),
old and new in turn, so a host that speeds up or slows down during the comparison hits both.
The data is the issue's synthetic task, made once in `--data` if missing (as `bench.backtest`
makes it). A refactor must print the same hash on both sides; `--strategy news_momentum` replays
another strategy, `--set '{"hedge": "index"}'` passes its settings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path("/tmp/spillover-bench-data")


def replay_side(
    data: Path, runs: int, settings: dict[str, object], strategy: str = "shock_hedge"
) -> dict[str, object]:
    """Load the data, warm up, replay `runs` times; the hash and the cpu seconds of each."""
    from backtests.data import load_news, load_tape
    from backtests.runner import TradeTape, run_backtest
    from engine.scoring import Scorer
    from engine.strategy import make_strategy

    news, tape = load_news(data / "news.parquet"), load_tape(data / "trades.parquet")
    scorer = Scorer.load()
    head = TradeTape(tape.ts[:20_000], tape.slot[:20_000], tape.price[:20_000], tape.symbols)
    run_backtest(news.head(20), head, [make_strategy(strategy, settings)], scorer)
    cpu, digests = [], set()
    for _ in range(runs):
        t0 = time.process_time()
        result = run_backtest(news, tape, [make_strategy(strategy, settings)], scorer)
        cpu.append(time.process_time() - t0)
        h = hashlib.sha256()
        for part in (result.shocks, result.intents, result.fills):
            for item in part:
                h.update(repr(item).encode())
        h.update(result.equity.write_csv().encode())
        h.update(repr((result.blocked, result.rejected, result.skipped_trades)).encode())
        digests.add(h.hexdigest()[:16])
    return {"hash": ",".join(sorted(digests)), "cpu": cpu, "fills": len(result.fills)}


def _side(directory: str, data: Path, settings: str, strategy: str) -> dict[str, object]:
    """One side in a fresh interpreter that runs this file (`--side`) with its imports from
    `directory` (the old side need not have this file)."""
    done = subprocess.run(
        [sys.executable, __file__, "--side", directory, "--data", str(data), "--set", settings,
         "--strategy", strategy],
        capture_output=True, text=True, check=False, cwd=directory,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the replay in {directory} failed:\n{done.stderr[-2000:]}")
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", nargs="?", help="checkout of the old side (a directory)")
    parser.add_argument("new", nargs="?", help="checkout of the new side")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # one side, in its own process
    parser.add_argument("--pairs", type=int, default=6, help="alternated old/new runs")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="synthetic task")
    parser.add_argument("--strategy", default="shock_hedge", help="the strategy replayed")
    parser.add_argument("--set", default="{}", help="the strategy's settings as JSON")
    args = parser.parse_args()
    if args.side:
        sys.path.insert(0, args.side)
        print(json.dumps(replay_side(args.data, 3, json.loads(args.set), args.strategy)))
        return
    if not (args.old and args.new):
        parser.error("give the old and the new checkout")
    for side in (args.old, args.new):
        if not (Path(side) / "backtests" / "runner.py").is_file():
            raise SystemExit(f"{side} is not a Spillover checkout (no backtests/runner.py)")
    json.loads(args.set)  # a mistake here should stop us before minutes of replays
    if not (args.data / "trades.parquet").is_file():
        from bench.backtest import stage_synth

        print(f"making the synthetic task in {args.data} ...", flush=True)
        stage_synth(argparse.Namespace(
            data=str(args.data), seed=1, days=50, symbols=100, headlines_per_day=400.0,
            trades_per_day=2000,
        ))  # fmt: skip
    best: dict[str, list[float]] = {"old": [], "new": []}
    hashes: dict[str, set[str]] = {"old": set(), "new": set()}
    for pair in range(args.pairs):
        for name, directory in (("old", args.old), ("new", args.new)):
            got = _side(directory, args.data, args.set, args.strategy)
            cpu = min(got["cpu"])  # type: ignore[type-var]
            best[name].append(cpu)
            hashes[name].add(str(got["hash"]))
            print(f"pair {pair + 1} {name}: best cpu {cpu:.3f} s, hash {got['hash']}, "
                  f"{got['fills']} fills", flush=True)  # fmt: skip
    old, new = statistics.median(best["old"]), statistics.median(best["new"])
    faster = sum(n < o for o, n in zip(best["old"], best["new"], strict=True))
    print(f"median best cpu: old {old:.3f} s, new {new:.3f} s ({(new - old) / old:+.1%}); "
          f"new faster in {faster} of {args.pairs} pairs")  # fmt: skip
    same = hashes["old"] == hashes["new"] and len(hashes["old"]) == 1
    print("results: the same on both sides" if same else f"results DIFFER: {hashes}")


if __name__ == "__main__":
    main()
