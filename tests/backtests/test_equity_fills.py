"""The equity table's fill columns: the booked fills of known books and symbols, in time order,
read from the tape venue's records when the venue made exactly the fills booked."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from backtests.runner import _booked_fill_columns
from backtests.tape_venue import TapeVenue
from engine.brokers.sim_venue import VenueSettings
from engine.orders import Fill, OrderIntent

SLOT_OF = {"A": 0, "B": 1, "C": 2}  # Z: not a market symbol
BOOK_OF = {"s": 0, "t": 1}  # x: not a registered strategy


def reference_columns(
    fills: list[Fill], slot_of: dict[str, int], book_of: dict[str, int]
) -> list[list[float]]:
    """The table's fills as they were first taken: filtered, then a stable sort by time."""
    kept = sorted(
        (f for f in fills if f.strategy_id in book_of and f.symbol in slot_of),
        key=lambda f: f.ts_event,
    )
    return [
        [f.ts_event for f in kept],
        [slot_of[f.symbol] for f in kept],
        [book_of[f.strategy_id] for f in kept],
        [f.qty for f in kept],
        [f.price for f in kept],
        [f.commission for f in kept],
    ]


def assert_columns(columns: tuple[np.ndarray, ...], want: list[list[float]]) -> None:
    assert [c.tolist() for c in columns] == want
    assert [c.dtype for c in columns] == [np.dtype(np.int64)] * 3 + [np.dtype(np.float64)] * 3
    assert all(c.flags.c_contiguous for c in columns)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from("ABCZ"),
            st.sampled_from("stx"),
            st.floats(-9, 9, allow_nan=False),
            st.floats(1, 2),
            st.floats(0, 1),
        ),
        max_size=30,
    )
)
def test_fills_of_any_broker_are_the_known_ones_in_stable_time_order(
    rows: list[tuple[int, str, str, float, float, float]],
) -> None:
    fills = [
        Fill(client_order_id=str(n), strategy_id=sid, symbol=symbol, qty=qty, price=price,
             ts_event=ts, commission=commission)
        for n, (ts, symbol, sid, qty, price, commission) in enumerate(rows)
    ]  # fmt: skip
    got = _booked_fill_columns(fills, None, SLOT_OF, BOOK_OF)
    assert_columns(got, reference_columns(fills, SLOT_OF, BOOK_OF))


def test_fills_the_tape_venue_made_are_read_from_its_records() -> None:
    ts = np.arange(0, 100, 10, dtype=np.int64)
    venue = TapeVenue(
        VenueSettings(latency_ns=1, borrow_rate=0.5), ts=ts,
        slot=np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], np.int32),
        price=np.linspace(10.0, 20.0, 10), slot_of=SLOT_OF,
    )  # fmt: skip
    for n, (symbol, qty, sid) in enumerate(
        [("A", -5.0, "s"), ("B", 3.0, "x"), ("C", 2.0, "t"), ("A", 5.0, "s"), ("B", -3.0, "t")]
    ):
        venue.submit(OrderIntent(strategy_id=sid, news_id="n", symbol=symbol, qty=qty,
                                 leg=str(n), ts_init=10 * n))  # fmt: skip
    booked = []
    while venue.next_fill_ns < 100:
        booked.append(venue.pop_fill())
    assert len(booked) == 5 and booked[3].commission > booked[0].commission  # borrow paid
    want = reference_columns(booked, SLOT_OF, BOOK_OF)
    assert_columns(_booked_fill_columns(booked, venue, SLOT_OF, BOOK_OF), want)
    assert_columns(_booked_fill_columns(booked, None, SLOT_OF, BOOK_OF), want)
    # fills booked that the venue did not make (or did not make alone): the Fill objects count
    fewer = booked[1:]
    assert_columns(
        _booked_fill_columns(fewer, venue, SLOT_OF, BOOK_OF),
        reference_columns(fewer, SLOT_OF, BOOK_OF),
    )
