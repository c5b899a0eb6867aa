"""A fold deferred to the next read (or merged into the next fold) leaves the market exactly
as folding at once does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernels.market_nb import G_LIMIT
from engine.market import MarketState

SYMBOLS, SECTORS = ["A", "B", "C"], ["x", "x", "y"]


def _tape(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(0, 12, n)).astype(np.int64) * 1_000_000_000  # quiet gaps too
    slots = rng.integers(0, 3, n).astype(np.int64)
    price = 10 + np.cumsum(rng.normal(0, 0.05, n))
    return slots, ts, price


def _market() -> MarketState:
    m = MarketState(SYMBOLS, SECTORS)
    m.start_grid(0, 5_000_000_000, 3_000_000_000)
    return m


def _state(m: MarketState) -> list[np.ndarray]:
    return [
        m.last_price,
        m.last_ts,
        m.var_rate,
        m.vol_ts,
        m.cov_mkt,
        m.var_mkt,
        m.cov_sec,
        m.mark_times,
    ]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    steps=st.lists(st.tuples(st.integers(1, 15), st.booleans(), st.integers(0, 9)), max_size=12),
)
def test_deferred_folds_equal_folding_at_once(
    seed: int, steps: list[tuple[int, bool, int]]
) -> None:
    slots, ts, price = _tape(200, seed)
    now, later = _market(), _market()
    assert now.grid is not None
    k = 0
    limit = int(ts[0])
    for span, read, bump in steps:
        cut = min(k + span, len(ts))
        limit = max(limit, int(ts[cut - 1]) + 1) + bump * 1_000_000_000  # the next event
        now.grid[G_LIMIT] = limit  # as the runner set it before folding up to a fill
        now.fold(slots, ts, price, k, cut)
        later.defer(slots, ts, price, k, cut, limit)
        if read:  # a handler reads a price: the deferred fold is made
            assert later.price("A") == now.price("A") or np.isnan(now.price("A"))
        k = cut
        if k >= len(ts):
            break
    end = int(ts[-1]) + 1
    assert now.fold_to(slots, ts, price, k, len(ts), end) == later.fold_to(
        slots, ts, price, k, len(ts), end
    )
    for a, b in zip(_state(now), _state(later), strict=True):
        np.testing.assert_array_equal(a, b)
