"""Books marked to market at given times from a trade tape and a fill list (reference:
`engine.market.reference_equity_at`).

A mark at time g sees the fills and trades strictly before g, as the event loop does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def equity_at_nb(
    t_slot: np.ndarray,
    t_ts: np.ndarray,
    t_px: np.ndarray,
    f_ts: np.ndarray,
    f_slot: np.ndarray,
    f_book: np.ndarray,
    f_qty: np.ndarray,
    f_price: np.ndarray,
    f_commission: np.ndarray,
    marks: np.ndarray,
    cash0: np.ndarray,
    n_slots: int,
) -> np.ndarray:
    """Return (mark, book) equity: cash plus positions at the last valid prices before the mark.

    Trades and fills are sorted by time and marks ascending; invalid trades (slot < 0, price not
    finite and positive) are ignored, as `fold_trades_nb` does.
    """
    n_books = cash0.shape[0]
    out = np.empty((marks.shape[0], n_books))
    pos = np.zeros((n_books, n_slots))
    cash = cash0.copy()
    last = np.zeros(n_slots)
    k = 0
    f = 0
    for m in range(marks.shape[0]):
        g = marks[m]
        while k < t_ts.shape[0] and t_ts[k] < g:
            s = t_slot[k]
            p = t_px[k]
            if s >= 0 and p > 0.0 and math.isfinite(p):
                last[s] = p
            k += 1
        while f < f_ts.shape[0] and f_ts[f] < g:
            b = f_book[f]
            cash[b] -= f_qty[f] * f_price[f] + f_commission[f]
            pos[b, f_slot[f]] += f_qty[f]
            f += 1
        for b in range(n_books):
            value = 0.0
            for s in range(n_slots):
                if pos[b, s] != 0.0:
                    value += pos[b, s] * last[s]
            out[m, b] = cash[b] + value
    return out


@njit(cache=True)
def gross_nb(shares: np.ndarray, last_price: np.ndarray) -> float:
    """Sum of |shares * last price| over symbol slots, in slot order (reference:
    `engine.runtime.reference_gross`)."""
    total = 0.0
    for s in range(shares.shape[0]):
        total += abs(shares[s] * last_price[s])
    return total
