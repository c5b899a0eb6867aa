"""Fold batches of trades into per-symbol market state (reference: `engine.market.reference`).

State per symbol slot: last price and time, an EWMA of squared log returns per second (so the
volatility of any horizon follows), and EWMA betas to the market and to the symbol's sector,
estimated on returns sampled on a common clock.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def fold_trades_nb(
    slots: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    last_price: np.ndarray,
    last_ts: np.ndarray,
    var_rate: np.ndarray,
    halflife_ns: float,
) -> int:
    """Apply trades in order; return how many were skipped (unknown slot, bad price, stale).

    var_rate[s] tracks E[r^2 / dt] (dt in seconds) with a time-based EWMA of half-life
    `halflife_ns`; a trade older than the symbol's last one is skipped.
    """
    skipped = 0
    ln2 = math.log(2.0)
    for k in range(slots.shape[0]):
        s = slots[k]
        p = price[k]
        t = ts[k]
        if s < 0 or not (p > 0.0) or not math.isfinite(p):
            skipped += 1
            continue
        if last_price[s] > 0.0:
            dt_ns = t - last_ts[s]
            if dt_ns < 0:
                skipped += 1
                continue
            if dt_ns > 0:
                r = math.log(p / last_price[s])
                alpha = 1.0 - math.exp(-ln2 * dt_ns / halflife_ns)
                var_rate[s] += alpha * (r * r / (dt_ns * 1e-9) - var_rate[s])
        last_price[s] = p
        last_ts[s] = t
    return skipped


@njit(cache=True)
def sample_betas_nb(
    last_price: np.ndarray,
    prev_price: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    cov_mkt: np.ndarray,
    var_mkt: np.ndarray,
    cov_sec: np.ndarray,
    var_sec: np.ndarray,
    alpha: float,
) -> None:
    """Take one sample of returns since the previous sample and update the EWMA betas.

    The market return is the equal-weighted mean over symbols that traded; a sector's return
    is the mean over its other members (so a symbol is not regressed on itself).
    """
    n = last_price.shape[0]
    r = np.zeros(n)
    ok = np.zeros(n, np.bool_)
    sec_sum = np.zeros(n_sectors)
    sec_cnt = np.zeros(n_sectors, np.int64)
    mkt = 0.0
    cnt = 0
    for s in range(n):
        if last_price[s] > 0.0 and prev_price[s] > 0.0:
            r[s] = math.log(last_price[s] / prev_price[s])
            ok[s] = True
            mkt += r[s]
            cnt += 1
            sec_sum[sector[s]] += r[s]
            sec_cnt[sector[s]] += 1
    if cnt > 0:
        mkt /= cnt
        var_mkt[0] += alpha * (mkt * mkt - var_mkt[0])
    for s in range(n):
        if ok[s]:
            cov_mkt[s] += alpha * (r[s] * mkt - cov_mkt[s])
            g = sector[s]
            if sec_cnt[g] > 1:
                peers = (sec_sum[g] - r[s]) / (sec_cnt[g] - 1)
                cov_sec[s] += alpha * (r[s] * peers - cov_sec[s])
                var_sec[s] += alpha * (peers * peers - var_sec[s])
        prev_price[s] = last_price[s]
