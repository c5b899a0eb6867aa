"""The simulated venue fills at the next trade after arrival, with costs, and never twice."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.sampled_from("ABCZ"), st.integers(-3, 3)), max_size=4),
            st.lists(st.tuples(st.integers(0, 40), st.sampled_from("ABC")), max_size=12),
            st.sampled_from(["keep", "cancel", "delay", "drop-first"]),
        ),
        max_size=6,
    )
)
def test_a_venue_on_slots_fills_as_one_on_symbols_even_when_pending_is_edited(
    steps: list[tuple[list[tuple[str, int]], list[tuple[int, str]], str]],
) -> None:
    """Orders, then a batch of trades, then (from outside, as the daemon's broker and tests do)
    the pending list kept, emptied, edited in place or replaced by a shorter one."""
    settings = VenueSettings(latency_ns=3, unshortable=frozenset({"C"}))
    by_slot = SimulatedVenue(settings, slot_of={"A": 0, "B": 1, "C": 2})  # Z is not on the tape
    by_name = SimulatedVenue(settings)
    now = 0
    for n, (orders, trades, edit) in enumerate(steps):
        for j, (symbol, qty) in enumerate(orders):
            for venue in (by_slot, by_name):
                venue.submit(intent(symbol, qty or 1, now, leg=f"{n}-{j}"), position=-1.0)
        trades.sort()
        ts = np.array([now + t for t, _ in trades], np.int64)
        price = np.arange(1.0, len(trades) + 1.0)
        slots = np.array([by_slot.slot_of[s] for _, s in trades], np.int32)  # type: ignore[index]
        got = by_slot.on_trades(slots, ts, price)
        want = by_name.on_trades(np.array([s for _, s in trades], dtype=object), ts, price)
        assert got == want
        assert by_slot.pending == by_name.pending
        for venue in (by_slot, by_name):
            if edit == "cancel":
                venue.pending = []
            elif edit == "delay" and venue.pending:
                venue.pending[0] = (venue.pending[0][0] + 20, venue.pending[0][1])
            elif edit == "drop-first":
                venue.pending = venue.pending[1:]
        now += 30
