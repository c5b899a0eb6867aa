"""Parameter-sweep fast path: PnL of shock baskets for many settings at once (numba).

Reference: `backtests.sweep.reference_pnl`. Mirrors `shock_hedge` with hedge "none" or "mean"
(subtract the mean weight, a beta-1 hedge with the legs), no stop or take-profit: enter at the
first trade at or after receipt + latency, exit at the first trade at or after receipt + hold +
latency (a basket still open when the data ends is marked at the last trade), sizes floored to
whole shares at the last price before receipt.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _first_at_or_after_nb(ts: np.ndarray, lo: int, hi: int, t: int) -> int:
    k = lo + int(np.searchsorted(ts[lo:hi], t, side="left"))
    return k if k < hi else -1


@njit(cache=True)
def sweep_pnl_nb(
    news_ts: np.ndarray,
    leg_ptr: np.ndarray,
    leg_slot: np.ndarray,
    leg_score: np.ndarray,
    sym_ptr: np.ndarray,
    sym_ts: np.ndarray,
    sym_px: np.ndarray,
    thresholds: np.ndarray,
    holds_ns: np.ndarray,
    hedge_mean: np.ndarray,
    gross: float,
    max_legs: int,
    latency_ns: int,
    slippage: float,
    commission: float,
) -> np.ndarray:
    """Return the PnL of every parameter set (arrays thresholds, holds_ns, hedge_mean align)."""
    n_par = thresholds.shape[0]
    out = np.zeros(n_par)
    w = np.zeros(max_legs)
    slots = np.zeros(max_legs, np.int64)
    px0 = np.zeros(max_legs)
    for p in range(n_par):
        total = 0.0
        for i in range(news_ts.shape[0]):
            t = news_ts[i]
            n = 0
            for j in range(leg_ptr[i], leg_ptr[i + 1]):
                if abs(leg_score[j]) < thresholds[p] or n == max_legs:
                    continue
                s = leg_slot[j]
                k = _first_at_or_after_nb(sym_ts, sym_ptr[s], sym_ptr[s + 1], t) - 1
                if k == -2:  # no trade at or after: the last trade of the symbol is before t
                    k = sym_ptr[s + 1] - 1
                if k < sym_ptr[s]:
                    continue  # nothing traded before the decision
                w[n] = leg_score[j]
                slots[n] = s
                px0[n] = sym_px[k]
                n += 1
            if n == 0:
                continue
            if hedge_mean[p] and n > 1:
                mean = 0.0
                for q in range(n):
                    mean += w[q]
                mean /= n
                for q in range(n):
                    w[q] -= mean
            g = 0.0
            for q in range(n):
                g += abs(w[q])
            if g <= 0:
                continue
            for q in range(n):
                notional = w[q] * gross / g
                qty = math.floor(abs(notional) / px0[q]) * (1.0 if notional > 0 else -1.0)
                if qty == 0:
                    continue
                s = slots[q]
                a = _first_at_or_after_nb(sym_ts, sym_ptr[s], sym_ptr[s + 1], t + latency_ns)
                b = _first_at_or_after_nb(
                    sym_ts, sym_ptr[s], sym_ptr[s + 1], t + holds_ns[p] + latency_ns
                )
                if a < 0:
                    continue  # never filled
                if sym_ts[a] >= t + holds_ns[p]:
                    # the exit timer fired before the entry filled: the strategy undoes the
                    # entry as soon as it fills
                    b = _first_at_or_after_nb(
                        sym_ts, sym_ptr[s], sym_ptr[s + 1], sym_ts[a] + latency_ns
                    )
                side = 1.0 if qty > 0 else -1.0
                entry = sym_px[a] * (1 + side * slippage)
                if b < 0:  # still open when the data ends: marked at the last trade
                    total += qty * (sym_px[sym_ptr[s + 1] - 1] - entry) - abs(qty) * commission
                    continue
                exit_ = sym_px[b] * (1 - side * slippage)
                total += qty * (exit_ - entry) - 2 * abs(qty) * commission
        out[p] = total
    return out
