"""The engine's book of watches: the PnL of the orders a strategy attached to a key, checked
against a band every period.

A strategy calls `ctx.watch(key, low=..., high=..., every_s=...)`, sends orders with
`ctx.submit(..., watch=key)` and gets `on_watch(key, pnl, ts_ns)` at a check where that PnL is
at or below `low` or at or above `high`; `ctx.unwatch(key)` ends it. Each strategy has one chain
of checks: it starts a period after a watch is added while none runs, and each check schedules
the next a period later until no watch is left. A check is a timer like any other (the same
order at equal times), so a strategy that checked its stops in `on_timer` gets the same results;
the difference is that a check that finds every watch in its band calls nothing, so the
backtest runs it inside the fold of the market (`market_nb.fold_to_checked_nb`), without
stopping, and only a check that fails reaches Python.

The arrays (layout in `engine.kernels.watch_nb`) are the state; the dictionaries find rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.kernels.watch_nb import (
    CH_EVERY,
    CH_NEXT,
    CH_ROWS,
    CH_SEQ,
    M_ENTRIES,
    M_NEXT,
    M_SIZE,
    M_WATCHES,
    NEVER,
    WF_COST,
    WF_HIGH,
    WF_LOW,
    WF_PNL,
    WF_QTY,
    WF_ROWS,
    WI_CHAIN,
    WI_FIRST,
    WI_LAST,
    WI_NEXT,
    WI_OUT,
    WI_PER_COST,
    WI_ROWS,
    WI_SLOT,
    chain_pnl_nb,
)


def reference_pnl(
    held: Iterable[tuple[float, float, float]],
) -> float:
    """Plain-Python twin of a watch's PnL in `chain_pnl_nb`: `(shares, cost, last price or
    NaN)` per symbol, in the order the watch first filled them; NaN when it holds nothing."""
    terms = [q * p - c for q, c, p in held]
    return sum(terms) if terms else float("nan")


def _new_meta() -> np.ndarray:
    meta = np.zeros(M_SIZE, np.int64)
    meta[M_NEXT] = NEVER
    return meta


@dataclass(slots=True)
class WatchBook:
    """The arrays of every strategy's watches and check chains (what the kernels read); each
    strategy books through its own `StrategyWatches` (`for_strategy`)."""

    slot_of: Mapping[str, int]  # market slot of a symbol
    wf: np.ndarray = field(default_factory=lambda: np.zeros((WF_ROWS, 64)))
    wi: np.ndarray = field(default_factory=lambda: np.full((WI_ROWS, 64), -1, np.int64))
    chains: np.ndarray = field(default_factory=lambda: np.zeros((CH_ROWS, 0), np.int64))
    meta: np.ndarray = field(default_factory=_new_meta)  # counts: M_WATCHES rows, M_ENTRIES
    free: list[int] = field(default_factory=list)  # watch rows to reuse
    # entries of unwatched watches, to reuse: a daemon that watches and unwatches for months
    # holds only as many entries as its watches ever held at once
    free_entries: list[int] = field(default_factory=list)
    strategies: list[StrategyWatches] = field(default_factory=list)  # by chain
    # the same memory as `wf` and `wi`, for one number at a time (a numpy item costs 3x more);
    # typed Any: typeshed's memoryview takes ints only, a float view takes floats
    f: Any = field(init=False)
    i: Any = field(init=False)
    m: Any = field(init=False)  # and `meta`'s
    # the entries' shares and cost rows on their own: a fill adds to both, and `+=` on a 1-D
    # view costs less than half of it on the 2-D one
    qty: Any = field(init=False)
    cost: Any = field(init=False)

    def __post_init__(self) -> None:
        self.m = self.meta.data
        self._views()

    def _views(self) -> None:
        self.f, self.i = self.wf.data, self.wi.data
        self.qty, self.cost = self.wf[WF_QTY].data, self.wf[WF_COST].data

    def for_strategy(self, sid: str) -> StrategyWatches:
        """A new strategy's watches, on a chain of its own."""
        c = self.chains.shape[1]
        grown = np.zeros((CH_ROWS, c + 1), np.int64)
        grown[:, :c] = self.chains
        grown[CH_NEXT, c] = NEVER
        self.chains = grown
        watches = StrategyWatches(self, sid, c)
        self.strategies.append(watches)
        return watches

    def failing(self, chain: int, last_price: np.ndarray) -> list[tuple[str, float]]:
        """Mark the chain's watches; (key, PnL) of those out of their band, in the order they
        were added."""
        if not chain_pnl_nb(chain, last_price, self.wf, self.wi, self.meta):
            return []
        f, i, out = self.f, self.i, []
        keys, added = self.strategies[chain].keys, self.strategies[chain].added
        for w in range(self.m[M_WATCHES]):
            if i[WI_CHAIN, w] == chain and i[WI_OUT, w]:
                out.append((added[w], keys[w], f[WF_PNL, w]))
        out.sort()
        return [(key, pnl) for _, key, pnl in out]

    def schedule(self, chain: int, ts_ns: int, seq: int, every_ns: int) -> None:
        """Record the chain's next check (the timer itself is the engine's)."""
        ch = self.chains
        ch[CH_NEXT, chain], ch[CH_SEQ, chain], ch[CH_EVERY, chain] = ts_ns, seq, every_ns

    def new_row(self) -> int:
        """A watch row: a free one, or a new one."""
        if self.free:
            return self.free.pop()
        w: int = self.m[M_WATCHES]
        self._grow(w)
        self.m[M_WATCHES] = w + 1
        return w

    def new_entry(self, w: int, slot: int) -> int:
        """A new entry (no shares, no cost) for market slot `slot` at the end of watch row
        `w`'s list: a free one, or a new column."""
        if self.free_entries:
            e = self.free_entries.pop()
            self.qty[e] = self.cost[e] = 0.0
            i = self.i
            i[WI_NEXT, e] = -1
        else:  # a new column: its shares and cost are 0 and its next -1, as `_grow` made them
            e = self.m[M_ENTRIES]
            self._grow(e)
            self.m[M_ENTRIES] = e + 1
            i = self.i  # after `_grow`: it may have made new arrays
        i[WI_SLOT, e] = slot
        last = i[WI_LAST, w]
        if last < 0:
            i[WI_FIRST, w] = e
        else:
            i[WI_NEXT, last] = e
        i[WI_LAST, w] = e
        return e

    def _grow(self, column: int) -> None:
        """Make room for `column`."""
        size = self.wf.shape[1]
        if column >= size:
            wf, wi = np.zeros((WF_ROWS, 2 * size)), np.full((WI_ROWS, 2 * size), -1, np.int64)
            wf[:, :size], wi[:, :size] = self.wf, self.wi
            self.wf, self.wi = wf, wi
            self._views()


@dataclass(slots=True)
class StrategyWatches:
    """One strategy's watches: rows by key, orders by id (what `ctx.watch`, `ctx.submit(...,
    watch=)` and the engine's fill booking use)."""

    book: WatchBook
    sid: str
    chain: int
    live: int = 0  # watches
    rows: dict[str, int] = field(default_factory=dict)  # live key -> row
    keys: dict[int, str] = field(default_factory=dict)  # row -> key
    added: dict[int, int] = field(default_factory=dict)  # row -> when its watch was added
    count: int = 0  # watches added so far
    held: dict[int, dict[str, int]] = field(default_factory=dict)  # row -> symbol -> entry
    orders: dict[str, int] = field(default_factory=dict)  # order id -> row
    order_ids: dict[int, list[str]] = field(default_factory=dict)  # row -> its order ids

    def watch(
        self, key: str, low: float, high: float, held: Mapping[str, tuple[float, float]] | None,
        per_cost: bool = False,
    ) -> None:  # fmt: skip
        """Start watching `key` with the band [low, high] (per dollar of the cost it holds,
        with `per_cost`) and, when restoring, the shares and cost already held per symbol."""
        if key in self.rows:
            raise ValueError(f"watch {key!r} of strategy {self.sid!r} already exists")
        book = self.book
        w = book.new_row()
        self.rows[key], self.keys[w], self.added[w] = w, key, self.count
        self.held[w], self.order_ids[w] = {}, []
        self.count += 1
        self.live += 1
        f, i = book.f, book.i
        f[WF_LOW, w], f[WF_HIGH, w] = low, high
        i[WI_CHAIN, w], i[WI_FIRST, w], i[WI_LAST, w] = self.chain, -1, -1
        i[WI_PER_COST, w] = 1 if per_cost else 0
        if held:
            for symbol, (qty, cost) in held.items():
                e = self._entry(w, symbol)
                book.qty[e], book.cost[e] = qty, cost

    def unwatch(self, key: str) -> None:
        """Stop watching `key`; its orders' later fills are not booked. Unknown keys are
        ignored."""
        w = self.rows.pop(key, None)
        if w is None:
            return
        book = self.book
        book.i[WI_CHAIN, w] = -1
        book.free.append(w)
        book.free_entries.extend(self.held.pop(w).values())
        self.live -= 1
        orders = self.orders
        for order_id in self.order_ids.pop(w):
            if orders.get(order_id) == w:  # not attached to another watch since
                del orders[order_id]

    def attach(self, order_id: str, key: str) -> None:
        """Book the fills of order `order_id` to watch `key`."""
        w = self.rows.get(key)
        if w is None:
            raise ValueError(f"no watch {key!r} for strategy {self.sid!r}: call ctx.watch first")
        self.orders[order_id] = w
        self.order_ids[w].append(order_id)

    def book_fill(self, order_id: str, symbol: str, qty: float, price: float) -> None:
        """A fill of `order_id`: add it to its watch, if it has a live one."""
        w = self.orders.get(order_id)
        if w is None:
            return
        e = self.held[w].get(symbol)
        if e is None:
            e = self._entry(w, symbol)
        book = self.book
        book.qty[e] += qty
        book.cost[e] += qty * price

    def _entry(self, w: int, symbol: str) -> int:
        """A new entry of watch row `w` for `symbol`."""
        book = self.book
        e = self.held[w][symbol] = book.new_entry(w, book.slot_of.get(symbol, -1))
        return e
