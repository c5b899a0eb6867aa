"""SimHash of a headline's token hashes and near-duplicate search (reference: scoring.reference)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def simhash_nb(hashes: np.ndarray, n: int) -> np.uint64:
    """Return the 64-bit SimHash of hashes[:n] (each token votes on every bit)."""
    votes = np.zeros(64, dtype=np.int32)
    for i in range(n):
        h = hashes[i]
        for bit in range(64):
            if (h >> np.uint64(bit)) & np.uint64(1):
                votes[bit] += 1
            else:
                votes[bit] -= 1
    out = np.uint64(0)
    for bit in range(64):
        if votes[bit] > 0:
            out |= np.uint64(1) << np.uint64(bit)
    return out


@njit(cache=True)
def popcount_nb(x: np.uint64) -> int:
    """Count the set bits of x."""
    c = 0
    while x:
        x &= x - np.uint64(1)
        c += 1
    return c


@njit(cache=True)
def nearest_recent_nb(
    ring_hash: np.ndarray, ring_ts: np.ndarray, count: int, h: np.uint64, ts: int, window: int
) -> int:
    """Return the smallest Hamming distance from h to a ring entry no older than `window`, or 64."""
    best = 64
    n = min(count, ring_hash.shape[0])
    for i in range(n):
        age = ts - ring_ts[i]
        if age < 0 or age > window:
            continue
        d = popcount_nb(ring_hash[i] ^ h)
        if d < best:
            best = d
    return best
