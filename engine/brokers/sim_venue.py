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
class VenueBook:
    """What every simulated venue keeps and charges: accepted ids, rejections, positions and
    short lots (for the borrow fee), and the price and costs of a fill."""

    settings: VenueSettings = field(default_factory=VenueSettings)
    rejected: list[Rejection] = field(default_factory=list)
    submitted: dict[str, int] = field(default_factory=dict)
    short_lots: dict[tuple[str, str], list[tuple[float, float, int]]] = field(default_factory=dict)
    positions: dict[tuple[str, str], float] = field(default_factory=dict)

    def _accept(self, intent: OrderIntent, position: float) -> bool:
        """Record the order as submitted; False (and a recorded rejection) if it cannot be."""
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
        return True

    def _fill(self, intent: OrderIntent, trade_price: float, ts: int) -> Fill:
        """The whole order filled at a trade: slippage against it, commission and borrow."""
        qty, settings = intent.qty, self.settings
        slip = settings.slippage_bps * 1e-4
        px = trade_price * (1 + slip if qty > 0.0 else 1 - slip)
        borrow = self._borrow(intent, px, ts)
        return Fill(
            client_order_id=intent.client_order_id,
            strategy_id=intent.strategy_id,
            symbol=intent.symbol,
            qty=qty,
            price=px,
            ts_event=ts,
            commission=abs(qty) * settings.commission_per_share + borrow,
        )

    def _borrow(self, intent: OrderIntent, price: float, ts: int) -> float:
        """Track short lots; return the borrow fee owed by this fill (when it covers).

        Most fills neither open a short nor cover one (a buy with no lot open, a sale out of a
        long): they only move the position, and a lot list is made only when a short opens.
        """
        key, qty = (intent.strategy_id, intent.symbol), intent.qty
        positions = self.positions
        after = positions.get(key, 0.0) + qty
        positions[key] = after
        lots = self.short_lots.get(key)
        if qty < 0.0:  # float literals: Python 3.11 specialises float-to-float compares only
            # the shares newly short: min(-qty, -after) once short
            new_short = (-qty if qty > after else -after) if after < 0.0 else 0.0
            if new_short > 0.0:
                if lots is None:
                    lots = self.short_lots[key] = []
                lots.append((new_short, price, ts))
            return 0.0
        if not lots:
            return 0.0  # a buy with no short lots open: no fee (the common case)
        if len(lots) == 1:  # the usual cover: the loop below, unrolled for one lot
            lot_qty, lot_price, since = lots[0]
            used = lot_qty if lot_qty < qty else qty
            if not used > 1e-12:
                return 0.0
            if lot_qty - used <= 1e-12:
                lots.pop()
            else:
                lots[0] = (lot_qty - used, lot_price, since)
            return used * lot_price * self.settings.borrow_rate * (ts - since) / (365 * 86_400e9)
        out = sum(q for q, _, _ in lots)
        fee, to_cover, rate = 0.0, min(qty, out), self.settings.borrow_rate
        while to_cover > 1e-12 and lots:
            lot_qty, lot_price, since = lots[0]
            used = min(lot_qty, to_cover)
            fee += used * lot_price * rate * (ts - since) / (365 * 86_400e9)
            to_cover -= used
            lots[0] = (lot_qty - used, lot_price, since)
            if lots[0][0] <= 1e-12:
                lots.pop(0)
        return fee


@dataclass(slots=True)
class SimulatedVenue(VenueBook):
    """Holds orders until a trade of their symbol arrives after their arrival time (the trades
    come as they happen: the daemon's simulated broker). A backtest, which knows the whole
    tape, uses `backtests.tape_venue.TapeVenue`: the same fills, found when the order is sent.

    `pending` is the record of open orders, (arrival time, intent) in the order they came:
    the daemon's broker and tests read and replace it.
    """

    pending: list[tuple[int, OrderIntent]] = field(default_factory=list)

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Queue an order; False (and a recorded rejection) if it cannot be accepted."""
        if not self._accept(intent, position):
            return False
        self.pending.append((intent.ts_init + self.settings.latency_ns, intent))
        return True

    def on_trades(self, symbols: np.ndarray, ts: np.ndarray, price: np.ndarray) -> list[Fill]:
        """Fill pending orders against a time-sorted batch of trades; return the fills in time
        order (orders filling at the same time in the order they came)."""
        if not self.pending or ts.shape[0] == 0:
            return []
        pending = self.pending
        hit = reference_first_trades(
            symbols, ts, [i.symbol for _, i in pending], [a for a, _ in pending]
        )
        fills: list[Fill] = []
        still: list[tuple[int, OrderIntent]] = []
        for (arrival, intent), k in zip(pending, hit, strict=True):
            if k < 0:
                still.append((arrival, intent))
            else:
                fills.append(self._fill(intent, price.item(k), ts.item(k)))
        self.pending = still
        fills.sort(key=_ts_event)
        return fills


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
