"""Order matching for the simulated venue (reference: `engine.brokers.sim_venue.reference_first_trades`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def first_trades_nb(
    keys: np.ndarray, ts: np.ndarray, order_key: np.ndarray, order_arrival: np.ndarray
) -> np.ndarray:
    """Index of the first trade of each order's key at or after its arrival, -1 if none.

    `ts` is sorted; the scan stops at the first trade of the key, so it costs about as many
    trades as pass between an order's arrival and its fill.
    """
    out = np.full(order_key.shape[0], -1, np.int64)
    for i in range(order_key.shape[0]):
        key = order_key[i]
        if key < 0:
            continue  # a symbol the tape does not carry never fills
        for k in range(np.searchsorted(ts, order_arrival[i], side="left"), ts.shape[0]):
            if keys[k] == key:
                out[i] = k
                break
    return out
