"""The simulated venue fills at the next trade after arrival, with costs, and never twice."""

import numpy as np
import pytest

from engine.brokers.sim_venue import SimulatedVenue, VenueSettings
from engine.orders import OrderIntent


def intent(symbol: str, qty: float, ts: int, leg: str = "l") -> OrderIntent:
    return OrderIntent(strategy_id="s", news_id="n", symbol=symbol, qty=qty, leg=leg, ts_init=ts)


def test_fills_at_the_first_trade_after_latency_with_slippage_and_commission() -> None:
    venue = SimulatedVenue(
        VenueSettings(latency_ns=100, slippage_bps=10, commission_per_share=0.01)
    )
    assert venue.submit(intent("A", 10, 1000))
    assert venue.submit(intent("B", -5, 1000))
    symbols = np.array(["A", "B", "A", "B"])
    ts = np.array([1050, 1100, 1100, 1200], np.int64)
    price = np.array([9.0, 20.0, 10.0, 21.0])
    fills = venue.on_trades(symbols, ts, price)
    assert [(f.symbol, f.ts_event) for f in fills] == [("A", 1100), ("B", 1100)]
    a, b = fills
    assert a.price == 10.0 * 1.001 and a.commission == 0.1
    assert b.price == 20.0 * 0.999
    assert venue.pending == []


def test_an_order_waits_for_a_trade_of_its_symbol() -> None:
    venue = SimulatedVenue(VenueSettings(latency_ns=0))
    venue.submit(intent("C", 1, 0))
    assert venue.on_trades(np.array(["A"]), np.array([5], np.int64), np.array([1.0])) == []
    fills = venue.on_trades(np.array(["C"]), np.array([9], np.int64), np.array([2.0]))
    assert fills[0].ts_event == 9


def test_duplicate_client_order_ids_and_unshortable_shorts_are_rejected() -> None:
    venue = SimulatedVenue(VenueSettings(unshortable=frozenset({"GME"})))
    assert venue.submit(intent("A", 1, 0))
    assert not venue.submit(intent("A", 1, 5))  # same strategy, news, symbol, leg
    assert not venue.submit(intent("GME", -3, 0))
    assert venue.submit(intent("GME", -3, 0, leg="close"), position=5.0)  # selling a long is fine
    assert [r.reason for r in venue.rejected] == [
        "duplicate client_order_id",
        "GME cannot be borrowed to short",
    ]


def test_covering_a_short_pays_borrow_for_the_time_it_was_out() -> None:
    day = 86_400 * 10**9
    venue = SimulatedVenue(
        VenueSettings(latency_ns=0, slippage_bps=0, commission_per_share=0, borrow_rate=0.365)
    )
    venue.submit(intent("A", -100, 0, leg="open"))
    [short] = venue.on_trades(np.array(["A"]), np.array([0], np.int64), np.array([10.0]))
    assert short.commission == 0.0
    venue.submit(intent("A", 100, 2 * day, leg="cover"))
    [cover] = venue.on_trades(np.array(["A"]), np.array([2 * day], np.int64), np.array([9.0]))
    assert cover.commission == pytest.approx(100 * 10.0 * 0.365 * 2 / 365)  # 2 days on $1,000


def test_covers_pay_borrow_on_the_oldest_short_lots_first() -> None:
    day = 86_400 * 10**9
    venue = SimulatedVenue(
        VenueSettings(latency_ns=0, slippage_bps=0, commission_per_share=0, borrow_rate=0.365)
    )
    rate = 0.365 / 365  # a day's fee on a dollar
    orders = [(-100, 0, 10.0), (-50, day, 20.0), (30, 2 * day, 9.0), (120, 4 * day, 9.0)]
    fees = []
    for n, (qty, ts, px) in enumerate(orders):
        venue.submit(intent("A", qty, ts, leg=str(n)))
        [fill] = venue.on_trades(np.array(["A"]), np.array([ts], np.int64), np.array([px]))
        fees.append(fill.commission)
    assert fees[:2] == [0.0, 0.0]  # opening shorts pays nothing
    assert fees[2] == pytest.approx(30 * 10.0 * rate * 2)  # from the first lot, out 2 days
    # the first lot's other 70 shares (4 days), then 50 of the second (3 days)
    assert fees[3] == pytest.approx(70 * 10.0 * rate * 4 + 50 * 20.0 * rate * 3)
    assert venue.short_lots[("s", "A")] == []
