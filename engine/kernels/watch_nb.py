"""Watches: the PnL of a strategy's watched orders, checked against a band on a periodic chain
(reference: `engine.watches.reference_pnl`; the book: `engine.watches.WatchBook`).

Layout, shared by the engine's book and the replay's fold (`market_nb.fold_to_checked_nb`).
Watch rows and entry rows share the column index (column j holds watch j and entry j); a watch
row is reused once unwatched, and so are its entries (an entry is one symbol of one watch; a
watch's entries form a list in the order the watch first filled them):
- `wf` float64 (WF_ROWS, capacity): per watch row its band (low, high) and its PnL at the last
  check; per entry row the shares and cost booked;
- `wi` int64 (WI_ROWS, capacity): per watch row its chain (-1: row free), its first and last
  entry (-1: none), whether its band scales with the cost it holds (1) and whether it left
  the band at the last check (1); per entry row the next entry of its watch (-1: the last) and
  the symbol's market slot (-1: untracked);
- `chains` int64 (CH_ROWS, strategies): per strategy's chain the next check time (NEVER: not
  running), its timer sequence number and its period;
- `meta` int64: the watch rows in use (free ones included) and the entries, the clock's next
  sequence number, the next check of any chain, and what a fold stopped for.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NEVER = 2**63 - 1

WF_LOW = 0
WF_HIGH = 1
WF_PNL = 2
WF_QTY = 3
WF_COST = 4
WF_ROWS = 5

WI_CHAIN = 0  # of a watch row: its strategy's chain, -1 when the row is free
WI_FIRST = 1
WI_LAST = 2
WI_NEXT = 3  # of an entry row
WI_SLOT = 4
WI_PER_COST = 5  # of a watch row: 1 when its band is per dollar of the cost it holds
WI_OUT = 6  # of a watch row: 1 when it left its band at the last check of its chain
WI_ROWS = 7

CH_NEXT = 0
CH_SEQ = 1
CH_EVERY = 2
CH_ROWS = 3

M_WATCHES = 0
M_ENTRIES = 1
M_SEQ = 2  # the clock's next timer sequence number (checks moved by a fold draw from it)
M_FIRED_TS = 3  # a fold stopped at a check that leaves a band: its time
M_STATUS = 4
M_NEED = 5  # with STATUS_ROOM: the free marks the fold needs
M_NEXT = 6  # the next check of any chain (NEVER: none runs)
M_SIZE = 7

STATUS_DONE = 0  # folded up to the limit
STATUS_CHECK = 1  # stopped at a check some watch fails (trades before it folded)
STATUS_ROOM = 2  # stopped for lack of room in the marks buffer: make room, call again


@njit(cache=True)
def chain_pnl_nb(
    chain: int, last_price: np.ndarray, wf: np.ndarray, wi: np.ndarray, meta: np.ndarray
) -> bool:
    """Mark the watches of `chain` at the last prices into `wf[WF_PNL]` and whether each left
    its band into `wi[WI_OUT]`; True when one did.

    A watch's PnL is the sum over its entries, in their order, of shares * last price - cost,
    the price NaN where the symbol has not traded (or is untracked), so no band is crossed;
    NaN too while nothing has filled. It leaves its band at PnL <= low or >= high, where a
    band per cost is first multiplied by the sum of |cost| over the entries.
    """
    fails = False
    for w in range(meta[M_WATCHES]):
        if wi[WI_CHAIN, w] != chain:
            continue
        wi[WI_OUT, w] = 0
        e = wi[WI_FIRST, w]
        if e < 0:
            wf[WF_PNL, w] = math.nan
            continue
        pnl = 0.0
        scale = 0.0
        while e >= 0:
            s = wi[WI_SLOT, e]
            p = last_price[s] if s >= 0 else 0.0
            if not p > 0.0:
                p = math.nan
            pnl += wf[WF_QTY, e] * p - wf[WF_COST, e]
            scale += abs(wf[WF_COST, e])
            e = wi[WI_NEXT, e]
        wf[WF_PNL, w] = pnl
        low, high = wf[WF_LOW, w], wf[WF_HIGH, w]
        if wi[WI_PER_COST, w] == 1:
            low, high = low * scale, high * scale
        if pnl <= low or pnl >= high:
            wi[WI_OUT, w] = 1
            fails = True
    return fails


@njit(cache=True)
def next_check_nb(chains: np.ndarray) -> int:
    """The chain whose check is due first (by time, then sequence number), -1 if none runs."""
    best = -1
    for c in range(chains.shape[1]):
        t = chains[CH_NEXT, c]
        if t == NEVER:
            continue
        if (
            best < 0
            or t < chains[CH_NEXT, best]
            or (t == chains[CH_NEXT, best] and chains[CH_SEQ, c] < chains[CH_SEQ, best])
        ):
            best = c
    return best


@njit(cache=True)
def pass_check_nb(chain: int, chains: np.ndarray, wi: np.ndarray, meta: np.ndarray) -> None:
    """The check of `chain` found every watch in its band: the chain's next check is a period
    later, with the next sequence number (a timer set at the check's time), or the chain ends
    when no live watch is left on it."""
    live = False
    for w in range(meta[M_WATCHES]):
        if wi[WI_CHAIN, w] == chain:
            live = True
            break
    if live:
        chains[CH_NEXT, chain] += chains[CH_EVERY, chain]
        chains[CH_SEQ, chain] = meta[M_SEQ]
        meta[M_SEQ] += 1
    else:
        chains[CH_NEXT, chain] = NEVER
    set_next_check_nb(chains, meta)


@njit(cache=True)
def set_next_check_nb(chains: np.ndarray, meta: np.ndarray) -> None:
    """Put the next check of any chain in `meta[M_NEXT]`."""
    c = next_check_nb(chains)
    meta[M_NEXT] = chains[CH_NEXT, c] if c >= 0 else NEVER
