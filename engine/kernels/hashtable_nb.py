"""Open-addressing hash map from uint64 keys to int32 values, as two arrays (reference: dict)."""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY = np.uint64(0)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def edge_key_nb(node: int, token_hash: np.uint64) -> np.uint64:
    """Key of the trie edge leaving `node` on `token_hash` (never 0)."""
    k = token_hash ^ (np.uint64(node + 1) * _GOLDEN)
    if k == EMPTY:
        k = np.uint64(1)
    return k


@njit(cache=True)
def ht_get_nb(keys: np.ndarray, vals: np.ndarray, key: np.uint64) -> int:
    """Return the value stored under `key`, or -1. `keys` has a power-of-two length."""
    if key == EMPTY:
        key = np.uint64(1)
    mask = np.int64(keys.shape[0] - 1)
    slot = np.int64((key ^ (key >> np.uint64(29))) & np.uint64(mask))
    while True:
        k = keys[slot]
        if k == key:
            return int(vals[slot])
        if k == EMPTY:
            return -1
        slot = (slot + 1) & mask


@njit(cache=True)
def ht_put_nb(keys: np.ndarray, vals: np.ndarray, key: np.uint64, value: int) -> None:
    """Store `value` under `key` (the table must have a free slot)."""
    if key == EMPTY:
        key = np.uint64(1)
    mask = np.int64(keys.shape[0] - 1)
    slot = np.int64((key ^ (key >> np.uint64(29))) & np.uint64(mask))
    while True:
        k = keys[slot]
        if k == key or k == EMPTY:
            keys[slot] = key
            vals[slot] = value
            return
        slot = (slot + 1) & mask
