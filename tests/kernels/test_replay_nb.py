"""Replay kernels (grid fold, equity marks, order matching) agree with their plain-Python twins."""

from __future__ import annotations

import bisect
import itertools
import os
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.brokers.sim_venue import reference_first_trades
from engine.kernels.ledger_nb import equity_at_nb, gross_nb
from engine.kernels.market_nb import search_nb
from engine.kernels.venue_nb import first_trade_nb, last_of_slot_nb
from engine.market import MarketState, reference_equity_at, reference_grid
from engine.runtime import reference_gross
from tests.conftest import ROOT

SECTORS = ["a", "a", "b", "b"]


def _tape(draw: st.DrawFn, max_size: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = draw(st.lists(st.integers(0, 400), max_size=max_size))
    times.sort()
    slots = draw(st.lists(st.integers(0, 3), min_size=len(times), max_size=len(times)))
    prices = draw(
        st.lists(st.floats(50.0, 150.0), min_size=len(times), max_size=len(times))
    )  # fmt: skip
    return np.array(times, np.int64), np.array(slots, np.int64), np.array(prices)


@st.composite
def replays(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[int], int, int]:  # fmt: skip
    ts, slots, px = _tape(draw)
    events = sorted(draw(st.lists(st.integers(0, 450), max_size=8)))
    cuts = draw(st.lists(st.integers(0, 60), max_size=4))  # fills split a batch here
    return ts, slots, px, events, cuts, draw(st.integers(1, 40)), draw(st.integers(1, 40))


def _drive(
    ts: np.ndarray,
    slots: np.ndarray,
    px: np.ndarray,
    events: list[int],
    cuts: list[int],
    step_mark: int,
    step_sample: int,
    *,
    span: bool = False,
    to: bool = False,
    marks_room: int | None = None,
) -> MarketState:
    """Fold trades with the grid on, as `run_backtest` drives it (fills cut batches at `cuts`);
    with `span`, through `MarketState.fold` (the span kernel) instead of `on_trades` on slices;
    with `to` as well, the last piece before each event through `MarketState.fold_to`, as the
    runner does."""
    start = 0
    state = MarketState(list("ABCD"), SECTORS, beta_alpha=0.1)
    state.start_grid(start, step_mark, step_sample)
    if marks_room is not None:
        state._marks = np.zeros(marks_room, np.int64)  # the span kernel asks for room
    n, k = ts.shape[0], 0
    end = int(ts[-1]) + 1 if n else start
    for i in range(len(events) + 1):
        limit = events[i] if i < len(events) else end
        state.set_limit(limit)
        j = int(np.searchsorted(ts, limit, side="left"))
        pieces = sorted({k, j, *(c for c in cuts if k < c < j)})
        if to:  # pieces up to the last fill, then one call up to the event
            pieces = [p for p in pieces if p < j] or [k]
        for a, b in itertools.pairwise(pieces):
            if span or to:
                state.fold(slots, ts, px, a, b)
            else:
                state.on_trades(slots[a:b], ts[a:b], px[a:b])
        if to:
            assert state.fold_to(slots, ts, px, pieces[-1], n, limit) == j
        k = j
        nxt = int(ts[k]) if k < n else end
        state.grid_until(nxt, k < n, end, at_limit=False)
        state.grid_until(nxt, k < n, end, at_limit=True)
        if limit >= end and i >= len(events) - 1 and k >= n:
            break
    return state


@given(replays(), st.sampled_from([None, 1, 4]))
def test_span_and_step_folds_give_exactly_the_state_of_folding_slices(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[int], int, int],
    marks_room: int | None,
) -> None:
    ts, slots, px, events, cuts, step_mark, step_sample = case
    sliced = _drive(ts, slots, px, events, cuts, step_mark, step_sample, marks_room=marks_room)
    for mode in ({"span": True}, {"to": True}):
        spans = _drive(
            ts, slots, px, events, cuts, step_mark, step_sample, marks_room=marks_room, **mode
        )  # fmt: skip
        assert spans.mark_times.tolist() == sliced.mark_times.tolist()
        assert spans.skipped == sliced.skipped
        np.testing.assert_array_equal(spans.last_ts, sliced.last_ts)
        for name in ("last_price", "var_rate", "vol_ts", "prev_price", "cov_mkt", "var_mkt"):
            np.testing.assert_array_equal(getattr(spans, name), getattr(sliced, name))
        np.testing.assert_array_equal(spans.cov_sec, sliced.cov_sec)
        np.testing.assert_array_equal(spans.var_sec, sliced.var_sec)


@given(replays())
def test_grid_fold_takes_the_marks_and_samples_of_the_event_loop(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[int], int, int],
) -> None:
    ts, slots, px, events, cuts, step_mark, step_sample = case
    marks, samples = reference_grid(ts.tolist(), events, 0, step_mark, step_sample)
    state = _drive(ts, slots, px, events, cuts, step_mark, step_sample)
    assert state.mark_times.tolist() == marks
    # the betas are those of sampling at exactly the reference's times
    twin = MarketState(list("ABCD"), SECTORS, beta_alpha=0.1)
    k = 0
    for t in samples:
        j = int(np.searchsorted(ts, t, side="left"))
        twin.on_trades(slots[k:j], ts[k:j], px[k:j])
        k = j
        twin.sample(t)
    np.testing.assert_allclose(state.cov_mkt, twin.cov_mkt, atol=1e-15)
    np.testing.assert_array_equal(state.var_rate, twin.var_rate)
    np.testing.assert_array_equal(state.vol_ts, twin.vol_ts)
    np.testing.assert_allclose(state.cov_sec, twin.cov_sec, atol=1e-15)
    np.testing.assert_allclose(state.var_mkt, twin.var_mkt, atol=1e-15)


def test_a_headline_long_after_the_last_trade_marks_every_grid_point_up_to_it() -> None:
    """Past the last trade quiet stretches are not skipped: thousands of marks in one call."""
    ts = np.array([5, 9, 30], np.int64)
    slots, px = np.array([0, 1, 0], np.int64), np.array([10.0, 20.0, 11.0])
    events = [12, 5_000, 9_000]
    marks, _ = reference_grid(ts.tolist(), events, 0, 1, 3)
    state = _drive(ts, slots, px, events, [], 1, 3)
    assert len(marks) > 5_000
    assert state.mark_times.tolist() == marks


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int, int, float, float, float]], list[int]]:  # fmt: skip
    ts, slots, px = _tape(draw, 40)
    fills = draw(
        st.lists(
            st.tuples(
                st.integers(0, 400),
                st.integers(0, 3),
                st.integers(0, 1),
                st.floats(-50, 50),
                st.floats(50.0, 150.0),
                st.floats(0, 2),
            ),
            max_size=12,
        )
    )
    fills.sort(key=lambda f: f[0])
    marks = sorted(set(draw(st.lists(st.integers(0, 420), max_size=10))))
    return ts, slots, px, fills, marks


@given(ledgers())
def test_equity_marks_match_booking_fills_one_by_one(
    case: tuple[
        np.ndarray,
        np.ndarray,
        np.ndarray,
        list[tuple[int, int, int, float, float, float]],
        list[int],
    ],
) -> None:
    ts, slots, px, fills, marks = case
    f = np.array(fills, np.float64).reshape(-1, 6)
    got = equity_at_nb(
        slots, ts, px, f[:, 0].astype(np.int64), f[:, 1].astype(np.int64),
        f[:, 2].astype(np.int64), f[:, 3], f[:, 4], f[:, 5],
        np.array(marks, np.int64), np.array([1000.0, 50.0]), 4,
    )  # fmt: skip
    trades = list(zip(ts.tolist(), slots.tolist(), px.tolist(), strict=True))
    want = reference_equity_at(trades, fills, marks, [1000.0, 50.0])
    np.testing.assert_allclose(got.reshape(len(marks), 2), np.array(want).reshape(-1, 2), rtol=1e-9, atol=1e-6)  # fmt: skip


@given(
    st.lists(st.tuples(st.integers(0, 100), st.integers(-1, 3)), max_size=50),
    st.lists(st.tuples(st.integers(-1, 5), st.integers(0, 120)), max_size=10),
)
def test_fill_kernel_finds_the_first_trade_of_the_symbol_at_or_after_arrival(
    trades: list[tuple[int, int]], orders: list[tuple[int, int]]
) -> None:
    """Slots -1 (untracked trades or orders) and 4, 5 (no trades) never fill."""
    trades.sort()
    ts = np.array([t for t, _ in trades], np.int64)
    slots = np.array([s for _, s in trades], np.int32)
    last = last_of_slot_nb(slots, 5)
    assert last.tolist() == [
        max((k for k, s in enumerate(slots) if s == x), default=-1) for x in range(5)
    ]
    want = reference_first_trades(slots, ts, [k for k, _ in orders], [a for _, a in orders])
    got = [first_trade_nb(ts, slots, key, arrival, last) for key, arrival in orders]
    assert got == [h if key >= 0 else -1 for h, (key, _) in zip(want, orders, strict=True)]


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(0.0, 1e4)), max_size=40))
def test_gross_kernel_sums_the_book_in_slot_order(book: list[tuple[float, float]]) -> None:
    shares, prices = [q for q, _ in book], [p for _, p in book]
    got = gross_nb(np.array(shares, np.float64), np.array(prices, np.float64))
    assert got == reference_gross(shares, prices)


@given(
    st.lists(st.integers(0, 30), max_size=40),
    st.integers(-1, 31),
    st.integers(0, 40),
    st.integers(0, 40),
    st.booleans(),
)
def test_tape_search_kernel_cuts_where_bisect_does(
    times: list[int], t: int, lo: int, hi: int, right: bool
) -> None:
    times.sort()
    lo, hi = min(lo, len(times)), min(hi, len(times))
    hi = max(lo, hi)
    want = (bisect.bisect_right if right else bisect.bisect_left)(times, t, lo, hi)
    assert search_nb(np.array(times, np.int64), lo, hi, t, right) == want


def test_replay_kernels_agree_as_plain_python() -> None:
    """The same properties with NUMBA_DISABLE_JIT=1: the kernels run as written."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "not plain_python"],
        env=env, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:]


def test_fold_to_binds_its_kernels_to_the_types_of_each_tape_it_is_handed() -> None:
    """`fold_to` calls its kernel's machine code for the tape's own array types, without
    numba's dispatch: a strided tape, or slots of another dtype, handed to the same state
    later, get machine code of their own and the same state as the plain tape."""
    rng = np.random.default_rng(3)
    n = 400
    ts = np.sort(rng.integers(0, 10_000, n)).astype(np.int64)
    slots = rng.integers(0, 4, n).astype(np.int64)
    px = rng.uniform(50.0, 150.0, n)
    # the same trades as views with a stride (not C-contiguous), slots as int32
    ts_strided, px_strided = np.repeat(ts, 2)[::2], np.repeat(px, 2)[::2]
    slots32 = slots.astype(np.int32)
    assert not ts_strided.flags.c_contiguous

    def replay(tapes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> MarketState:
        state = MarketState(list("ABCD"), SECTORS, beta_alpha=0.1)
        state.start_grid(0, 700, 300)
        k = 0
        for (s, t, p), limit in zip(tapes, (2_500, 5_000, 7_500, 10_001), strict=True):
            k = state.fold_to(s, t, p, k, n, limit)
        assert k == n
        return state

    plain = (slots, ts, px)
    want = replay([plain] * 4)
    for tapes in (
        [(slots32, ts_strided, px_strided)] * 4,
        [plain, (slots32, ts, px), (slots, ts_strided, px_strided), plain],
    ):
        got = replay(tapes)
        assert got.mark_times.tolist() == want.mark_times.tolist()
        for name in ("last_price", "last_ts", "var_rate", "vol_ts", "cov_mkt", "cov_sec"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
