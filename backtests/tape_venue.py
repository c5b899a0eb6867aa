"""The simulated venue of a backtest: it knows the whole tape, so it finds an order's fill when
the order is sent.

The fill is the one `SimulatedVenue` gives when it is handed the trades as they happen: the
order fills, whole, at the first trade of its symbol at or after its arrival (`ts_init` plus
the venue latency), with the same slippage, commission and borrow fee. Knowing it early lets
the runner treat the fill as an event on its own clock, like a timer: the engine is told of
it, and the market is folded up to it, when that trade is reached; no strategy learns
anything sooner. Orders filling at the same time are told in the order they were sent.

The venue also keeps a record of every fill it makes (`fill_records`, one `FILL_RECORD` each,
packed as the fill is made): the runner's equity table reads its columns as arrays. Read back
from the `Fill` objects after the replay, each attribute is a cache miss: about 30 ms for the
36k fills of the 10M-trade replay, against about 10 ms to pack the records on the way.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.brokers.sim_venue import VenueBook
from engine.kernels.direct import compiled_for
from engine.kernels.venue_nb import first_trade_nb, last_of_slot_nb
from engine.orders import Fill, OrderIntent

NEVER = 2**63 - 1  # `next_fill_ns` when no fill is due


# a fill made: its time, its trade's index on the tape, its book (the venue's number of its
# strategy, `TapeVenue.books`), qty, price and commission
FILL_RECORD = np.dtype(
    [("ts", np.int64), ("trade", np.int64), ("book", np.int64), ("qty", np.float64),
     ("price", np.float64), ("commission", np.float64)],
    align=True,
)  # fmt: skip
_pack_record = struct.Struct("=qqqddd").pack  # FILL_RECORD's bytes


@dataclass(slots=True)
class TapeVenue(VenueBook):
    """Fills orders against a time-sorted tape (`ts`, `slot`, `price` arrays; `slot_of` maps
    a symbol to its slot)."""

    ts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    slot: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    price: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slot_of: dict[str, int] = field(default_factory=dict)
    next_fill_ns: int = NEVER  # time of the next fill (NEVER: none due)
    next_fill_cut: int = 0  # index past the trades at or before that time
    unfilled: list[OrderIntent] = field(default_factory=list)  # no trade after their arrival
    # fills due: (time, sequence, trade index, index past the trades at that time, order)
    _due: list[tuple[int, int, int, int, OrderIntent]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _last_of_slot: np.ndarray = field(init=False)  # each slot's last trade on the tape
    _first_trade: Any = field(init=False)  # `first_trade_nb` for this tape, without dispatch
    # the tape's times and prices for one number at a time (half the cost of a numpy `item`)
    _ts_v: Any = field(init=False)
    _price_v: Any = field(init=False)
    # strategy id -> book number in the fill records, in the order of their first fills
    books: dict[str, int] = field(default_factory=dict)
    _made: bytearray = field(default_factory=bytearray)  # the fill records, packed

    def __post_init__(self) -> None:
        self._ts_v, self._price_v = self.ts.data, self.price.data
        self._last_of_slot = last_of_slot_nb(self.slot, len(self.slot_of))
        self._first_trade = compiled_for(
            first_trade_nb, self.ts, self.slot, 0, 0, self._last_of_slot
        )

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Accept the order and find its fill; False (and a recorded rejection) if it cannot
        be accepted."""
        if not self._accept(intent, position):
            return False
        ts = self.ts
        k = self._first_trade(
            ts, self.slot, self.slot_of.get(intent.symbol, -1),
            intent.ts_init + self.settings.latency_ns, self._last_of_slot,
        )  # fmt: skip
        if k < 0:
            self.unfilled.append(intent)
            return True
        times = self._ts_v
        t = times[k]
        cut = k + 1  # past the trades at the fill's time (seldom more than the fill's own)
        while cut < ts.shape[0] and times[cut] == t:
            cut += 1
        heapq.heappush(self._due, (t, next(self._seq), k, cut, intent))
        if t < self.next_fill_ns:
            self.next_fill_ns, self.next_fill_cut = t, cut
        return True

    def pop_fill(self) -> Fill:
        """The next fill due (at `next_fill_ns`), booked: call it when the replay reaches it."""
        due = self._due
        t, _, k, _, intent = heapq.heappop(due)
        if due:
            self.next_fill_ns, self.next_fill_cut = due[0][0], due[0][3]
        else:
            self.next_fill_ns = NEVER
        fill = self._fill(intent, self._price_v[k], t)
        books = self.books
        book = books.get(fill.strategy_id)
        if book is None:
            book = books[fill.strategy_id] = len(books)
        self._made += _pack_record(t, k, book, fill.qty, fill.price, fill.commission)
        return fill

    @property
    def fills_made(self) -> int:
        """How many fills `pop_fill` has made."""
        return len(self._made) // FILL_RECORD.itemsize

    def fill_records(self) -> np.ndarray:
        """The fills made so far (`FILL_RECORD`s, a copy) in the order they were made."""
        return np.frombuffer(self._made, FILL_RECORD).copy()

    @property
    def pending(self) -> list[OrderIntent]:
        """Orders accepted and not filled yet (those due, in fill order, then those that never
        fill)."""
        return [intent for *_, intent in sorted(self._due)] + self.unfilled
