"""The simulated venue: orders fill at the next trade after they could have reached the market.

An order decided at `ts_init` reaches the venue `latency_ns` later and fills, whole, at the
first trade of its symbol at or after that time, at that trade's price moved against the order
by `slippage_bps`, paying `commission_per_share`. Shorts of unshortable symbols are rejected; covering a short pays the borrow fee for the time
the shares were out (first in, first out).
Deterministic: no randomness at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np

from engine.kernels.venue_nb import match_pending_nb
from engine.orders import Fill, OrderIntent

_ts_event = attrgetter("ts_event")


@dataclass(slots=True)
class VenueSettings:
    """Costs and delays of the simulated venue."""

    latency_ns: int = 50_000_000  # decision → venue
    slippage_bps: float = 2.0
    commission_per_share: float = 0.005
    borrow_rate: float = 0.02  # yearly fee on the value of shares borrowed to short
    unshortable: frozenset[str] = frozenset()


@dataclass(slots=True)
class Rejection:
    """An order the venue refused, and why."""

    intent: OrderIntent
    reason: str


@dataclass(slots=True)
class SimulatedVenue:
    """Holds orders until a trade of their symbol arrives after their arrival time."""

    settings: VenueSettings = field(default_factory=VenueSettings)
    pending: list[tuple[int, OrderIntent]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    submitted: dict[str, int] = field(default_factory=dict)
    short_lots: dict[tuple[str, str], list[tuple[float, float, int]]] = field(default_factory=dict)
    positions: dict[tuple[str, str], float] = field(default_factory=dict)
    slot_of: dict[str, int] | None = None  # set: trades arrive as symbol slots, not strings
    # with `slot_of`: the pending orders' slots and arrival times as arrays, kept in step with
    # `pending` (which stays the record: the daemon's broker and tests read and replace it);
    # `_mirror` is a copy of `pending` as the arrays hold it
    _mirror: list[tuple[int, OrderIntent]] = field(default_factory=list, repr=False, compare=False)
    _order_slot: np.ndarray = field(default_factory=lambda: np.zeros(64, np.int64), repr=False, compare=False)  # fmt: skip
    _order_arrival: np.ndarray = field(default_factory=lambda: np.zeros(64, np.int64), repr=False, compare=False)  # fmt: skip
    _hits: np.ndarray = field(default_factory=lambda: np.zeros(64, np.int64), repr=False, compare=False)  # fmt: skip

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Queue an order; False (and a recorded rejection) if it cannot be accepted."""
        cid = intent.client_order_id
        if cid in self.submitted:
            self.rejected.append(Rejection(intent, "duplicate client_order_id"))
            return False
        if (
            intent.qty < 0
            and position + intent.qty < 0
            and intent.symbol in self.settings.unshortable
        ):
            self.rejected.append(Rejection(intent, f"{intent.symbol} cannot be borrowed to short"))
            return False
        self.submitted[cid] = intent.ts_init
        self.pending.append((intent.ts_init + self.settings.latency_ns, intent))
        return True

    def on_trades(self, symbols: np.ndarray, ts: np.ndarray, price: np.ndarray) -> list[Fill]:
        """See `on_trades`; `symbols` holds slots (ints) when `slot_of` is set."""
        return self._match(symbols, ts, price)

    def _match(self, symbols: np.ndarray, ts: np.ndarray, price: np.ndarray) -> list[Fill]:
        """Fill pending orders against a time-sorted batch of trades; return the fills."""
        if not self.pending or ts.shape[0] == 0:
            return []
        pending = self.pending
        if self.slot_of is None:
            hit = reference_first_trades(
                symbols, ts, [i.symbol for _, i in pending], [a for a, _ in pending]
            )
        else:
            n = self._sync(pending)
            if not match_pending_nb(
                symbols, ts, self._order_slot, self._order_arrival, n, self._hits
            ):
                return []  # no pending order fills in this batch: the orders stay as they are
            self._mirror = []  # the arrays hold the orders still pending now (set below)
            hit = self._hits[:n].tolist()
        fills: list[Fill] = []
        still: list[tuple[int, OrderIntent]] = []
        slip = self.settings.slippage_bps * 1e-4
        up, down, per_share = 1 + slip, 1 - slip, self.settings.commission_per_share
        price_at, ts_at = price.item, ts.item  # Python float and int, as float() and int()
        for (arrival, intent), k in zip(pending, hit, strict=True):
            if k < 0:
                still.append((arrival, intent))
                continue
            qty = intent.qty
            px = price_at(k) * (up if qty > 0 else down)
            t = ts_at(k)
            borrow = self._borrow(intent, px, t)
            fills.append(
                Fill(
                    client_order_id=intent.client_order_id,
                    strategy_id=intent.strategy_id,
                    symbol=intent.symbol,
                    qty=qty,
                    price=px,
                    ts_event=t,
                    commission=abs(qty) * per_share + borrow,
                )
            )
        self.pending = still
        if self.slot_of is not None:
            self._mirror = still.copy()  # the kernel kept the unfilled orders' arrays, in order
        if len(fills) > 1:
            fills.sort(key=_ts_event)
        return fills

    def _sync(self, pending: list[tuple[int, OrderIntent]]) -> int:
        """Bring the order arrays in step with `pending`; return its length.

        Orders appended since the last match are added; a list replaced or edited from outside
        is read again in full.
        """
        mirror = self._mirror
        m, n = len(mirror), len(pending)
        if n < m or pending[:m] != mirror:
            m = 0
        if n > m:
            if n > self._order_slot.shape[0]:
                size = max(n, 2 * self._order_slot.shape[0])
                self._order_slot = np.resize(self._order_slot, size)
                self._order_arrival = np.resize(self._order_arrival, size)
                self._hits = np.zeros(size, np.int64)
            assert self.slot_of is not None
            get, slots, arrivals = self.slot_of.get, self._order_slot, self._order_arrival
            for i in range(m, n):
                arrival, intent = pending[i]
                slots[i] = get(intent.symbol, -1)
                arrivals[i] = arrival
            self._mirror = pending.copy()
        return n

    def _borrow(self, intent: OrderIntent, price: float, ts: int) -> float:
        """Track short lots; return the borrow fee owed by this fill (when it covers)."""
        key = (intent.strategy_id, intent.symbol)
        held = self.positions.get(key, 0.0)
        self.positions[key] = held + intent.qty
        lots = self.short_lots.get(key)
        if lots is None:
            lots = self.short_lots[key] = []
        elif intent.qty >= 0 and not lots:
            return 0.0  # a buy with no short lots open: no fee (the common case)
        if intent.qty < 0:
            new_short = min(-intent.qty, -(held + intent.qty)) if held + intent.qty < 0 else 0.0
            if new_short > 0:
                lots.append((new_short, price, ts))
            return 0.0
        fee, to_cover = 0.0, min(intent.qty, sum(q for q, _, _ in lots))
        while to_cover > 1e-12 and lots:
            qty, lot_price, since = lots[0]
            used = min(qty, to_cover)
            fee += used * lot_price * self.settings.borrow_rate * (ts - since) / (365 * 86_400e9)
            to_cover -= used
            lots[0] = (qty - used, lot_price, since)
            if lots[0][0] <= 1e-12:
                lots.pop(0)
        return fee


def reference_match(
    keys: Sequence[int], ts: Sequence[int], orders: Sequence[tuple[int, int]]
) -> tuple[list[int], list[tuple[int, int]]]:
    """Plain twin of `match_pending_nb`: the hit of each (key, arrival) order, and the orders
    that did not fill, in order."""
    hits = reference_first_trades(
        np.asarray(keys), np.asarray(ts), [k for k, _ in orders], [a for _, a in orders]
    )
    hits = [h if k >= 0 else -1 for h, (k, _) in zip(hits, orders, strict=True)]
    return hits, [o for o, h in zip(orders, hits, strict=True) if h < 0]


def reference_first_trades(
    keys: np.ndarray, ts: np.ndarray, order_keys: Sequence[object], arrivals: Sequence[int]
) -> list[int]:
    """First trade of each order's key at or after its arrival, -1 if none (any key type: the
    venue's path for string symbols)."""
    out = []
    for key, arrival in zip(order_keys, arrivals, strict=True):
        k0 = int(np.searchsorted(ts, arrival, side="left"))
        hits = np.flatnonzero(keys[k0:] == key)
        out.append(k0 + int(hits[0]) if hits.shape[0] else -1)
    return out
