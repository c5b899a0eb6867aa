"""The simulated paper broker: the backtest's venue model, fed with live trades.

An order fills, whole, at the first trade of its symbol at or after its arrival (decision time
plus `latency_ms`), moved against it by the slippage, paying the commission — exactly as in a
backtest. It keeps nothing across restarts: orders the journal holds as open are cancelled at
start-up, and positions come from the journal. Its records of orders (ids seen, how often each
was submitted, rejections) keep the latest `RECORDS_KEPT` once they reach ten times that: a
daemon that runs for months does not grow with every order (the journal, which the daemon
checks before sending, is the record of every order id ever sent).
"""

from __future__ import annotations

import logging
from itertools import islice
from typing import Any

import numpy as np

from engine.brokers.base import BrokerSnapshot, OrderEvents
from engine.brokers.sim_venue import SimulatedVenue, VenueSettings
from engine.clock import Clock
from engine.feeds.base import TradeBatch
from engine.orders import OrderIntent
from engine.settings import BrokerSettings

log = logging.getLogger(__name__)

RECORDS_KEPT = 1_000


class SimBroker:
    """Fills orders against the trades the feeds deliver."""

    name = "sim"
    durable_orders = False  # in-process: a crash loses its orders with it, nothing to resend

    def __init__(self, settings: BrokerSettings, clock: Clock) -> None:
        self.clock = clock
        self.venue = SimulatedVenue(
            VenueSettings(
                latency_ns=int(settings.latency_ms * 1e6),
                slippage_bps=settings.slippage_bps,
                commission_per_share=settings.commission_per_share,
                unshortable=frozenset(settings.unshortable),
            )
        )
        self._events: OrderEvents | None = None
        self.submissions: dict[str, int] = {}

    @property
    def events(self) -> OrderEvents:
        if self._events is None:
            raise RuntimeError("SimBroker.start was not awaited")
        return self._events

    async def start(self, events: OrderEvents) -> BrokerSnapshot:
        """Nothing to connect to; positions live in the journal."""
        self._events = events
        return BrokerSnapshot()

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Accept the order at once (or reject it, saying why)."""
        cid = intent.client_order_id
        self.submissions[cid] = self.submissions.get(cid, 0) + 1
        if len(self.submissions) > 10 * RECORDS_KEPT:
            self._trim_records()
        if self.venue.submit(intent, position):
            self.events.order_status(cid, "accepted", broker_id=cid)
            return True
        self.events.order_status(cid, "rejected", reason=self.venue.rejected[-1].reason)
        return False

    def _trim_records(self) -> None:
        """Keep the latest `RECORDS_KEPT` submissions, accepted ids and rejections."""
        venue = self.venue
        for record in (self.submissions, venue.submitted):
            for cid in list(islice(record, max(0, len(record) - RECORDS_KEPT))):
                del record[cid]
        del venue.rejected[:-RECORDS_KEPT]

    async def resume(self, orders: list[dict[str, Any]]) -> None:
        """The simulator forgot them: cancel orders left open by an earlier run."""
        for order in orders:
            self.events.order_status(
                order["client_order_id"], "canceled", reason="the simulated broker restarted"
            )

    def on_trades(self, batch: TradeBatch) -> None:
        """Fill pending orders against a batch of trades."""
        if not self.venue.pending:
            return
        symbols = np.asarray(batch.symbols, dtype=object)
        for fill in self.venue.on_trades(symbols, batch.ts, batch.price):
            self.events.fill(fill)
            self.events.order_status(fill.client_order_id, "filled")

    async def cancel_all(self) -> int:
        """Drop every pending order."""
        pending, self.venue.pending = self.venue.pending, []
        for _, intent in pending:
            self.events.order_status(intent.client_order_id, "canceled", reason="cancel all")
        return len(pending)

    async def aclose(self) -> None:
        """Nothing in flight."""
