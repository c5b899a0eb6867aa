"""Numba kernel of the market simulator: the log-price of every synthetic trade.

Pure `@njit` functions on arrays and scalars. Trades arrive grouped by symbol (`seg[s]` to
`seg[s + 1]`), sorted by time inside each group. The log price of a trade is

    log_p0[s] + beta[s] * market(clock) + sector_s(clock) + idiosyncratic walk + news impacts

where `clock` is trading time in seconds (the session plus a short equivalent for the night),
the factors are cumulative levels on a grid of step `grid_dt` (linearly interpolated), the
walk adds `sigma[s] * sqrt(d clock) * z` per trade, and each planted impact of size `a`,
onset `t0` (ns) and decay time `tau` (s) adds `a * (1 - exp(-(t - t0) / tau))` once `t > t0`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NS_PER_S = 1_000_000_000
# Past this many decay times an impact is complete to double precision (exp(-36) < 3e-16).
DONE_AFTER_TAUS = 36.0


@njit(cache=True)
def factor_level_nb(factors: np.ndarray, col: int, clock: float, grid_dt: float) -> float:
    """Interpolate factor column `col` at trading time `clock`."""
    x = clock / grid_dt
    g = int(x)
    last = factors.shape[0] - 1
    if g >= last:
        return float(factors[last, col])
    w = x - g
    return float(factors[g, col] * (1.0 - w) + factors[g + 1, col] * w)


@njit(cache=True)
def impact_sum_nb(
    t: int,
    lo: int,
    hi: int,
    imp_t0: np.ndarray,
    imp_size: np.ndarray,
    imp_tau: np.ndarray,
) -> float:
    """Sum the partial impacts `lo..hi` (sorted by onset) at time `t` in ns."""
    total = 0.0
    for k in range(lo, hi):
        if imp_t0[k] >= t:
            break
        dt = (t - imp_t0[k]) / NS_PER_S
        total += imp_size[k] * (1.0 - np.exp(-dt / imp_tau[k]))
    return total


@njit(cache=True)
def log_price_path_nb(
    ts: np.ndarray,
    clock: np.ndarray,
    z: np.ndarray,
    seg: np.ndarray,
    log_p0: np.ndarray,
    sigma: np.ndarray,
    beta: np.ndarray,
    sector: np.ndarray,
    factors: np.ndarray,
    grid_dt: float,
    imp_seg: np.ndarray,
    imp_t0: np.ndarray,
    imp_size: np.ndarray,
    imp_tau: np.ndarray,
    tau_max: float,
) -> np.ndarray:
    """Return the log price of every trade (see the module docstring for the model).

    `sector[s]` is the factor column of symbol `s` (column 0 is the market); impacts of symbol
    `s` are `imp_seg[s]` to `imp_seg[s + 1]`, sorted by onset `imp_t0`.
    """
    out = np.empty(ts.shape[0], np.float64)
    done_ns = DONE_AFTER_TAUS * tau_max * NS_PER_S
    for s in range(seg.shape[0] - 1):
        walk = 0.0
        prev_clock = 0.0
        lo = imp_seg[s]
        end = imp_seg[s + 1]
        done = 0.0
        for i in range(seg[s], seg[s + 1]):
            walk += sigma[s] * np.sqrt(max(clock[i] - prev_clock, 0.0)) * z[i]
            prev_clock = clock[i]
            while lo < end and ts[i] - imp_t0[lo] > done_ns:
                done += imp_size[lo]
                lo += 1
            news = done + impact_sum_nb(ts[i], lo, end, imp_t0, imp_size, imp_tau)
            market = factor_level_nb(factors, 0, clock[i], grid_dt)
            own = factor_level_nb(factors, sector[s], clock[i], grid_dt)
            out[i] = log_p0[s] + beta[s] * market + own + walk + news
    return out
