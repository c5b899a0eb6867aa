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


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True)
def popcount_nb(x: np.uint64) -> int:
    """Count the set bits of x (branch-free SWAR)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return int((x * _H01) >> np.uint64(56))


@njit(cache=True)
def nearest_recent_nb(
    ring_hash: np.ndarray,
    ring_ts: np.ndarray,
    count: int,
    pos: int,
    h: np.uint64,
    ts: int,
    window: int,
) -> int:
    """Smallest Hamming distance from h to a ring entry of the last `window` ns, or 64.

    The ring holds `count` entries, the newest just before `pos`. It walks newest to oldest and
    stops at the first entry older than the window (news arrives in time order).
    """
    best = 64
    size = ring_hash.shape[0]
    j = pos
    for _ in range(min(count, size)):
        j = j - 1 if j > 0 else size - 1  # newest to oldest, without a modulo per entry
        age = ts - ring_ts[j]
        if age > window:
            break
        if age < 0:
            continue
        d = popcount_nb(ring_hash[j] ^ h)
        if d < best:
            best = d
    return best
