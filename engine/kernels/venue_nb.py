"""Order matching for the simulated venue (reference: `engine.brokers.sim_venue.reference_match`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def match_pending_nb(
    keys: np.ndarray,
    ts: np.ndarray,
    order_key: np.ndarray,
    order_arrival: np.ndarray,
    n: int,
    hits: np.ndarray,
) -> int:
    """Match the first `n` pending orders against a time-sorted batch of trades.

    Writes to `hits[i]` the index of the first trade of order i's key at or after its arrival
    (-1 if none, or if the key is negative: a symbol the tape does not carry); then, if any
    order filled, moves the orders that did not to the front of `order_key` and
    `order_arrival`, in their order. Returns how many filled. The scan stops at the first trade
    of the key, so it costs about as many trades as pass between an order's arrival and its fill.
    """
    filled = 0
    for i in range(n):
        hits[i] = -1
        key = order_key[i]
        if key < 0:
            continue
        for k in range(np.searchsorted(ts, order_arrival[i], side="left"), ts.shape[0]):
            if keys[k] == key:
                hits[i] = k
                filled += 1
                break
    if filled > 0:
        m = 0
        for i in range(n):
            if hits[i] < 0:
                order_key[m] = order_key[i]
                order_arrival[m] = order_arrival[i]
                m += 1
    return filled
