"""The backtest's venue finds, when an order is sent, the fill the streaming venue gives."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from backtests.tape_venue import NEVER, TapeVenue
from engine.brokers.sim_venue import SimulatedVenue, VenueSettings
from engine.orders import Fill, OrderIntent

SLOT_OF = {"A": 0, "B": 1, "C": 2, "D": 3}  # D never trades; Z is not on the tape


def intent(symbol: str, qty: float, ts: int, leg: str, strategy: str = "s") -> OrderIntent:
    return OrderIntent(
        strategy_id=strategy, news_id="n", symbol=symbol, qty=qty, leg=leg, ts_init=ts
    )


@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.sampled_from("ABCDZ"), st.integers(-3, 3)), max_size=4),
            st.lists(st.tuples(st.integers(0, 29), st.sampled_from("ABC")), max_size=12),
        ),
        max_size=6,
    ),
    st.integers(0, 40),
)
def test_fills_equal_the_streaming_venue_s_in_order_with_costs(
    steps: list[tuple[list[tuple[str, int]], list[tuple[int, str]]]], latency: int
) -> None:
    """Each step: orders sent at its start, then its trades (30 ns a step). The streaming venue
    is handed each step's trades; the tape venue knows them all from the start. Its records of
    the fills it made hold their numbers."""
    settings = VenueSettings(
        latency_ns=latency, slippage_bps=3.0, borrow_rate=0.5, unshortable=frozenset({"C"})
    )
    trades = sorted((30 * n + t, s) for n, (_, batch) in enumerate(steps) for t, s in batch)
    ts = np.array([t for t, _ in trades], np.int64)
    price = np.arange(1.0, len(trades) + 1.0)
    slots = np.array([SLOT_OF[s] for _, s in trades], np.int32)
    streaming = SimulatedVenue(settings)
    tape = TapeVenue(settings, ts=ts, slot=slots, price=price, slot_of=SLOT_OF)
    made: list[Fill] = []
    for n, (orders, _) in enumerate(steps):
        for j, (symbol, qty) in enumerate(orders):
            order = intent(symbol, qty or 1, 30 * n, f"{n}-{j}", strategy="ts"[j % 2])
            sent = [venue.submit(order, position=-1.0) for venue in (streaming, tape)]
            assert sent[0] == sent[1]
        lo, hi = np.searchsorted(ts, [30 * n, 30 * (n + 1)])
        names = np.array([s for _, s in trades[lo:hi]], dtype=object)
        want = streaming.on_trades(names, ts[lo:hi], price[lo:hi])
        got: list[Fill] = []
        while tape.next_fill_ns < 30 * (n + 1):
            assert tape.next_fill_ns >= 30 * n  # never a fill due before the step's trades
            assert tape.next_fill_cut == np.searchsorted(ts, tape.next_fill_ns, side="right")
            got.append(tape.pop_fill())
        assert got == want
        made += got
    assert [i for _, i in streaming.pending] == tape.pending
    assert tape.rejected == streaming.rejected
    if not tape.pending:
        assert tape.next_fill_ns == NEVER
    records, books = tape.fill_records(), list(tape.books)
    assert tape.fills_made == len(made) == records.shape[0]
    assert records["ts"].tolist() == [f.ts_event for f in made]
    assert slots[records["trade"]].tolist() == [SLOT_OF[f.symbol] for f in made]
    assert [books[b] for b in records["book"]] == [f.strategy_id for f in made]
    for name in ("qty", "price", "commission"):
        assert records[name].tolist() == [getattr(f, name) for f in made]


def test_an_order_for_a_symbol_that_stopped_trading_never_fills() -> None:
    ts = np.array([0, 5, 10], np.int64)
    tape = TapeVenue(
        VenueSettings(latency_ns=1), ts=ts, slot=np.array([0, 1, 0], np.int32),
        price=np.array([1.0, 2.0, 3.0]), slot_of={"A": 0, "B": 1},
    )  # fmt: skip
    assert tape.submit(intent("B", 1, 5, "late"))  # B's last trade was at 5, arrival 6
    assert tape.submit(intent("A", 1, 0, "on time"))
    assert tape.next_fill_ns == 10  # A's first trade at or after its arrival (1)
    assert [i.leg for i in tape.pending] == ["on time", "late"]
    assert tape.pop_fill().ts_event == 10
    assert tape.next_fill_ns == NEVER
