"""The interface between the daemon and a broker.

The daemon journals every order before `submit` is called; a broker reports what happens to it
through `OrderEvents` (from the event loop thread). `submit` never blocks: a broker with a
network behind it queues the call and returns at once.

Order states, as journaled: new → submitted → accepted → (partially_filled →) filled, or
canceled / rejected / expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.feeds.base import TradeBatch
from engine.orders import Fill, OrderIntent

TERMINAL_STATES = frozenset({"filled", "canceled", "rejected", "expired"})


class OrderEvents(Protocol):
    """Where a broker reports order updates and fills."""

    def order_status(
        self, client_order_id: str, status: str, broker_id: str | None = None, reason: str = ""
    ) -> None:
        """An order moved to `status` (see the module docstring)."""
        ...

    def fill(self, fill: Fill) -> None:
        """A (partial) execution; `fill.qty` is the newly filled quantity only."""
        ...


@dataclass(slots=True)
class BrokerSnapshot:
    """What the broker holds at start-up, to reconcile with the journal."""

    positions: dict[str, float] = field(default_factory=dict)  # symbol → shares
    open_orders: list[dict[str, Any]] = field(default_factory=list)  # client_order_id, status, ...


class LiveBroker(Protocol):
    """A broker the daemon sends orders to."""

    name: str
    # True (the default when absent): each order is committed to the journal before `submit`.
    # The in-process simulator sets False: its orders commit with the rest of the event.
    durable_orders: bool

    async def start(self, events: OrderEvents) -> BrokerSnapshot:
        """Connect, and report positions and open orders for reconciliation."""
        ...

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Send an order without blocking; False if refused at once (reported via events too)."""
        ...

    async def resume(self, orders: list[dict[str, Any]]) -> None:
        """Follow up orders the journal holds as open after a restart (columns of `orders`).

        An order journaled but never acknowledged is looked up by its client order id first and
        sent only if the broker has never seen it.
        """
        ...

    def on_trades(self, batch: TradeBatch) -> None:
        """Market trades as they arrive (the simulated broker fills against them)."""
        ...

    async def cancel_all(self) -> int:
        """Cancel every open order; return how many."""
        ...

    async def aclose(self) -> None:
        """Finish in-flight calls and stop following orders."""
        ...
