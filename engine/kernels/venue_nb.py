"""Where an order fills on a known tape (reference: `engine.brokers.sim_venue.reference_first_trades`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def first_trade_nb(
    ts: np.ndarray, slots: np.ndarray, slot: int, arrival: int, last_of_slot: np.ndarray
) -> int:
    """Index of the first trade of `slot` at or after `arrival` in a time-sorted tape, -1 if
    none (or if `slot` is negative: a symbol the tape does not carry).

    `last_of_slot[s]` is the index of slot s's last trade (-1: none), so an order for a symbol
    that has stopped trading costs nothing; otherwise the scan costs about as many trades as
    pass between the order's arrival and its fill.
    """
    if slot < 0 or slot >= last_of_slot.shape[0]:
        return -1
    last = last_of_slot[slot]
    if last < 0 or ts[last] < arrival:
        return -1
    for k in range(np.searchsorted(ts, arrival, side="left"), last + 1):
        if slots[k] == slot:
            return k
    return -1


@njit(cache=True)
def last_of_slot_nb(slots: np.ndarray, n_slots: int) -> np.ndarray:
    """Index of each slot's last trade on a tape, -1 for a slot with none (negative slots,
    trades of untracked symbols, are left out). Scans from the end and stops once every slot
    is found: for a tape whose symbols all trade, a few trades per symbol, not the tape."""
    last = np.full(n_slots, -1, np.int64)
    left = n_slots
    k = slots.shape[0] - 1
    while k >= 0 and left > 0:
        s = slots[k]
        if 0 <= s < n_slots and last[s] < 0:
            last[s] = k
            left -= 1
        k -= 1
    return last
