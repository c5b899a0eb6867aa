"""Compare two checkouts' backtest replays: the same results (a hash of everything the replay
produced) and which is faster, alternated on the same host.

Run: `python -m bench.replay_ab OLD_DIR NEW_DIR [--pairs 6] [--data DIR]`, e.g. with the old
side from `git worktree add /tmp/old <commit>`. Each side runs in a fresh process of its own
(`--side DIR`: load, warm up, three full replays of `shock_hedge`, the best one's cpu time),
old and new in turn, so a host that speeds up or slows down during the comparison hits both.
The data is the issue's synthetic task, made once in `--data` if missing (as `bench.backtest`
makes it). A refactor must print the same hash on both sides; `--strategy news_momentum` replays
another strategy, `--set '{"hedge": "index"}'` passes its settings.

On a noisy host, `--instructions` counts instead of timing: each side runs once under
valgrind's callgrind, which counts the instructions of one replay only (collection is switched
on and off around it through callgrind's client requests, from a small C helper built on the
fly). Two runs of the same code differ by about 0.3%, against 5-10% for cpu time on a shared
host; instructions are not time (a cache miss costs many), so a change that moves memory
rather than work still needs the timed pairs. It needs valgrind and a C compiler
(`apt-get install valgrind gcc`) and runs about 60 times slower than the replay: use a small
task (`python -m bench.backtest --stage synth --data DIR --days 5` makes 1 M trades).
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path("/tmp/spillover-bench-data")


# callgrind's client requests (valgrind/callgrind.h): collect the instructions between the two
_TOGGLE_C = """
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT; }
void stop(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_STOP_INSTRUMENTATION; }
"""


def _build_toggle(directory: Path) -> Path:
    """The C helper that switches callgrind's counting on and off, built in `directory`."""
    missing = [tool for tool in ("valgrind", "cc") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"--instructions needs {' and '.join(missing)}: "
                         "apt-get install valgrind gcc")  # fmt: skip
    source, lib = directory / "toggle.c", directory / "libtoggle.so"
    source.write_text(_TOGGLE_C)
    built = subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(source)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if built.returncode != 0:
        raise SystemExit(f"could not build the callgrind helper (valgrind's headers, "
                         f"valgrind/callgrind.h, come with valgrind):\n{built.stderr}")  # fmt: skip
    return lib


def _this_checkouts_bench() -> Any:
    """This checkout's `bench/backtest.py`, loaded by path: a side's imports come from the
    checkout it measures, which may be older and lack the warm-up both sides should share."""
    spec = importlib.util.spec_from_file_location(
        "_replay_ab_bench_backtest", Path(__file__).with_name("backtest.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def replay_side(
    data: Path, runs: int, settings: dict[str, object], strategy: str = "shock_hedge",
    toggle: str | None = None,
) -> dict[str, object]:  # fmt: skip
    """Load the data, warm up, replay `runs` times; the hash and the cpu seconds of each.
    With `toggle` (the helper `_build_toggle` made), one replay, counted by callgrind."""
    from backtests.data import load_news, load_tape
    from backtests.runner import run_backtest
    from engine.scoring import Scorer
    from engine.strategy import make_strategy

    news, tape = load_news(data / "news.parquet"), load_tape(data / "trades.parquet")
    scorer = Scorer.load()
    _this_checkouts_bench().warm_up(news, tape, scorer, make_strategy(strategy, settings))
    switch = None
    if toggle:  # counted after a full replay, as the best of timed runs is
        run_backtest(news, tape, [make_strategy(strategy, settings)], scorer)
        switch, runs = ctypes.CDLL(toggle), 1
    cpu, digests = [], set()
    for _ in range(runs):
        chosen = [make_strategy(strategy, settings)]
        if switch:
            switch.start()
        t0 = time.process_time()
        result = run_backtest(news, tape, chosen, scorer)
        cpu.append(time.process_time() - t0)
        if switch:
            switch.stop()
        h = hashlib.sha256()
        for part in (result.shocks, result.intents, result.fills):
            for item in part:
                h.update(repr(item).encode())
        h.update(result.equity.write_csv().encode())
        h.update(repr((result.blocked, result.rejected, result.skipped_trades)).encode())
        digests.add(h.hexdigest()[:16])
    return {"hash": ",".join(sorted(digests)), "cpu": cpu, "fills": len(result.fills)}


def _side(
    directory: str, data: Path, settings: str, strategy: str, toggle: Path | None = None
) -> dict[str, object]:
    """One side in a fresh interpreter that runs this file (`--side`) with its imports from
    `directory` (the old side need not have this file); with `toggle`, under callgrind, and
    the instructions it counted in `"instructions"`."""
    command = [sys.executable, __file__, "--side", directory, "--data", str(data),
               "--set", settings, "--strategy", strategy]  # fmt: skip
    env = None
    if toggle:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                   f"--callgrind-out-file={toggle.parent / 'callgrind.out.%p'}",
                   *command, "--toggle", str(toggle)]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts on both sides
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=directory,
                          env=env)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the replay in {directory} failed:\n{done.stderr[-2000:]}")
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    if toggle:
        counted = re.search(r"Collected : (\d+)", done.stderr)
        if counted is None:
            raise SystemExit(f"callgrind printed no count:\n{done.stderr[-2000:]}")
        out["instructions"] = int(counted.group(1))
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
    parser.add_argument("--instructions", action="store_true",
                        help="count one replay's instructions under callgrind, not time")  # fmt: skip
    parser.add_argument("--toggle", help=argparse.SUPPRESS)  # a side under callgrind
    args = parser.parse_args()
    if args.side:
        sys.path.insert(0, args.side)
        side = replay_side(args.data, 3, json.loads(args.set), args.strategy, args.toggle)
        print(json.dumps(side))
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
    if args.instructions:
        _count_instructions(args)
        return
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


def _count_instructions(args: argparse.Namespace) -> None:
    """One replay a side under callgrind: instructions and the hash."""
    with tempfile.TemporaryDirectory(prefix="replay-ab-") as tmp:
        toggle = _build_toggle(Path(tmp))
        counts, hashes = {}, {}
        for name, directory in (("old", args.old), ("new", args.new)):
            got = _side(directory, args.data, args.set, args.strategy, toggle)
            counts[name], hashes[name] = int(got["instructions"]), got["hash"]  # type: ignore[call-overload]
            print(f"{name}: {counts[name]:,} instructions, hash {got['hash']}, "
                  f"{got['fills']} fills", flush=True)  # fmt: skip
    old, new = counts["old"], counts["new"]
    print(f"instructions: new {(new - old) / old:+.2%} against old (the same code differs by "
          "about 0.3%)")  # fmt: skip
    same = hashes["old"] == hashes["new"]
    print("results: the same on both sides" if same else f"results DIFFER: {hashes}")


if __name__ == "__main__":
    main()
