"""The simulated broker keeps only its recent order records: a daemon running for months does
not grow with every order."""

from __future__ import annotations

import asyncio

from engine.live.sim_broker import RECORDS_KEPT, SimBroker
from engine.orders import Fill, OrderIntent
from engine.settings import BrokerSettings
from tests.support.engine_parts import ManualClock


class Events:
    def __init__(self) -> None:
        self.statuses: list[tuple[str, str, str]] = []

    def order_status(
        self, client_order_id: str, status: str, broker_id: str | None = None, reason: str = ""
    ) -> None:
        self.statuses.append((client_order_id, status, reason))

    def fill(self, fill: Fill) -> None:
        raise AssertionError("no trades, no fills")


def test_records_are_cut_to_the_latest_and_a_recent_duplicate_is_still_refused() -> None:
    broker = SimBroker(BrokerSettings(unshortable=["B"]), ManualClock())
    events = Events()
    asyncio.run(broker.start(events))
    orders = [
        OrderIntent(
            strategy_id="s", news_id=f"n{i}", symbol="AB"[i % 2], qty=-1.0, leg="entry", ts_init=i
        )
        for i in range(10 * RECORDS_KEPT + 1)
    ]  # fmt: skip  (every B order shorts an unshortable symbol: rejected)
    accepted = [broker.submit(intent) for intent in orders]
    assert accepted == [i % 2 == 0 for i in range(len(orders))]
    # cut once, at the last order, to the latest RECORDS_KEPT (then the last one's own record)
    assert list(broker.submissions) == [o.client_order_id for o in orders[-RECORDS_KEPT:]]
    ids_accepted = [o.client_order_id for o in orders if o.symbol == "A"]
    assert list(broker.venue.submitted) == ids_accepted[-RECORDS_KEPT - 1 :]
    assert len(broker.venue.rejected) <= RECORDS_KEPT
    assert broker.venue.rejected[-1].intent is orders[-2]
    assert len(broker.venue.pending) == len(orders) // 2 + 1  # open orders are not records
    assert not broker.submit(orders[-1])  # a recent id is still refused
    assert events.statuses[-1][1:] == ("rejected", "duplicate client_order_id")
    assert broker.submissions[orders[-1].client_order_id] == 2
