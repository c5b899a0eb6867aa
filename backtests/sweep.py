"""`spillover sweep`: evaluate a grid of shock-basket settings with the numba fast path.

Headlines are scored once (in order, as the event-driven run does); each parameter set
(threshold, holding time, hedge) is then a pass of `sweep_pnl_nb` over arrays, and the grid is
spread over processes.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from backtests.data import TradeTape
from backtests.runner import news_items
from backtests.sweep_nb import sweep_pnl_nb
from engine.scoring import Scorer


@dataclass(slots=True)
class SweepInputs:
    """Everything the fast path reads, as arrays."""

    news_ts: np.ndarray
    leg_ptr: np.ndarray
    leg_slot: np.ndarray
    leg_score: np.ndarray
    sym_ptr: np.ndarray
    sym_ts: np.ndarray
    sym_px: np.ndarray
    symbols: list[str]


def prepare(
    news: pl.DataFrame,
    trades: pl.DataFrame | TradeTape,
    scorer: Scorer,
    receipt_latency_s: float = 2.0,
) -> SweepInputs:
    """Score the headlines (receipt = publication + latency) and lay trades out per symbol."""
    if isinstance(trades, TradeTape):
        symbols = trades.symbols
        order = np.argsort(trades.slot, kind="stable")  # per symbol, in time order
        sym_ts, sym_px = trades.ts[order], trades.price[order]
        counts = np.bincount(trades.slot, minlength=len(symbols))
        del order
    else:
        trades = trades.sort(["symbol", "ts"], maintain_order=True)
        symbols = sorted(trades["symbol"].unique().to_list())
        counts = trades.group_by("symbol").len().sort("symbol")["len"].to_numpy()
        sym_ts = trades["ts"].to_numpy().astype(np.int64)
        sym_px = trades["price"].to_numpy().astype(np.float64)
    slot = {s: i for i, s in enumerate(symbols)}
    sym_ptr = np.zeros(len(symbols) + 1, np.int64)
    sym_ptr[1:] = np.cumsum(counts)
    items = news_items(news, receipt_latency_s)
    scorer.reset_novelty()
    shocks = scorer.score_batch(items).shocks()
    leg_ptr, leg_slot, leg_score = [0], [], []
    for shock in shocks:
        for leg in shock.legs:  # already sorted by |score|
            if leg.symbol in slot:
                leg_slot.append(slot[leg.symbol])
                leg_score.append(leg.score)
        leg_ptr.append(len(leg_slot))
    return SweepInputs(
        news_ts=np.array([i.ts_init for i in items], np.int64),
        leg_ptr=np.array(leg_ptr, np.int64),
        leg_slot=np.array(leg_slot, np.int64),
        leg_score=np.array(leg_score, np.float64),
        sym_ptr=sym_ptr,
        sym_ts=sym_ts,
        sym_px=sym_px,
        symbols=symbols,
    )


@dataclass(frozen=True, slots=True)
class Costs:
    """The venue's costs, as in `engine.brokers.sim_venue.VenueSettings`."""

    gross: float = 100_000.0
    max_legs: int = 8
    latency_ns: int = 50_000_000
    slippage_bps: float = 2.0
    commission_per_share: float = 0.005


def _run_chunk(args: tuple[SweepInputs, np.ndarray, np.ndarray, np.ndarray, Costs]) -> np.ndarray:
    inp, thr, hold, hedge, c = args
    return sweep_pnl_nb(
        inp.news_ts, inp.leg_ptr, inp.leg_slot, inp.leg_score, inp.sym_ptr, inp.sym_ts, inp.sym_px,
        thr, hold, hedge, c.gross, c.max_legs, c.latency_ns, c.slippage_bps * 1e-4, c.commission_per_share,
    )  # fmt: skip


def run_grid(
    inputs: SweepInputs,
    thresholds: Sequence[float],
    holds_s: Sequence[float],
    hedges: Sequence[str],
    costs: Costs = Costs(),
    workers: int | None = None,
) -> pl.DataFrame:
    """PnL of every combination, one row each, spread over `workers` processes (all cores)."""
    for h in hedges:
        if h not in ("none", "mean"):
            raise ValueError(f"hedge {h!r}: the fast path knows 'none' and 'mean'")
    grid = list(itertools.product(thresholds, holds_s, hedges))
    thr = np.array([g[0] for g in grid], np.float64)
    hold = np.array([int(g[1] * 1e9) for g in grid], np.int64)
    hedge = np.array([g[2] == "mean" for g in grid], np.bool_)
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(grid) < 2 * workers:
        pnl = _run_chunk((inputs, thr, hold, hedge, costs))
    else:
        parts = np.array_split(np.arange(len(grid)), workers)
        jobs = [(inputs, thr[p], hold[p], hedge[p], costs) for p in parts]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pnl = np.concatenate(list(pool.map(_run_chunk, jobs)))
    return pl.DataFrame(
        {"threshold": thr, "hold_s": hold / 1e9, "hedge": [g[2] for g in grid], "pnl": pnl}
    ).sort("pnl", descending=True)


def reference_pnl(inp: SweepInputs, threshold: float, hold_s: float, hedge: str, c: Costs) -> float:
    """Plain-Python twin of one `sweep_pnl_nb` parameter set."""

    def first_at_or_after(s: int, t: int) -> int:
        lo, hi = int(inp.sym_ptr[s]), int(inp.sym_ptr[s + 1])
        for k in range(lo, hi):
            if inp.sym_ts[k] >= t:
                return k
        return -1

    total = 0.0
    hold = int(hold_s * 1e9)
    for i, t in enumerate(inp.news_ts.tolist()):
        legs: list[tuple[int, float, float]] = []
        for j in range(int(inp.leg_ptr[i]), int(inp.leg_ptr[i + 1])):
            s, score = int(inp.leg_slot[j]), float(inp.leg_score[j])
            if abs(score) < threshold or len(legs) == c.max_legs:
                continue
            lo, hi = int(inp.sym_ptr[s]), int(inp.sym_ptr[s + 1])
            before = [k for k in range(lo, hi) if inp.sym_ts[k] < t]
            if before:
                legs.append((s, score, float(inp.sym_px[before[-1]])))
        if not legs:
            continue
        w = [score for _, score, _ in legs]
        if hedge == "mean" and len(w) > 1:
            mean = sum(w) / len(w)
            w = [x - mean for x in w]
        g = sum(abs(x) for x in w)
        if g <= 0:
            continue
        for (s, _, p0), wq in zip(legs, w, strict=True):
            notional = wq * c.gross / g
            qty = math.floor(abs(notional) / p0) * (1.0 if notional > 0 else -1.0)
            if qty == 0:
                continue
            a, b = (
                first_at_or_after(s, t + c.latency_ns),
                first_at_or_after(s, t + hold + c.latency_ns),
            )
            if a < 0:
                continue
            if inp.sym_ts[a] >= t + hold:
                b = first_at_or_after(s, int(inp.sym_ts[a]) + c.latency_ns)
            side = 1.0 if qty > 0 else -1.0
            entry = float(inp.sym_px[a]) * (1 + side * c.slippage_bps * 1e-4)
            if b < 0:
                last = float(inp.sym_px[int(inp.sym_ptr[s + 1]) - 1])
                total += qty * (last - entry) - abs(qty) * c.commission_per_share
                continue
            exit_ = float(inp.sym_px[b]) * (1 - side * c.slippage_bps * 1e-4)
            total += qty * (exit_ - entry) - 2 * abs(qty) * c.commission_per_share
    return total
