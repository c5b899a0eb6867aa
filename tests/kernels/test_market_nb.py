"""Market-state kernels agree with their plain-Python references and recover known betas."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.market import MarketState, reference_fold

TRADE = st.tuples(
    st.integers(-1, 3),
    st.integers(0, 10**12),
    st.one_of(st.floats(1.0, 500.0), st.just(0.0), st.just(math.nan), st.just(-5.0)),
)


@given(st.lists(TRADE, max_size=80))
def test_fold_kernel_matches_reference(trades: list[tuple[int, int, float]]) -> None:
    trades.sort(key=lambda x: x[1])
    slots = np.array([t[0] for t in trades], np.int64)
    ts = np.array([t[1] for t in trades], np.int64)
    px = np.array([t[2] for t in trades], np.float64)
    state = MarketState(["A", "B", "C", "D"], ["x", "x", "y", "y"], vol_halflife_s=60.0)
    state.on_trades(slots, ts, px)
    last_p, last_t, skipped = reference_fold(slots.tolist(), ts.tolist(), px.tolist(), 4)
    np.testing.assert_array_equal(state.last_price, last_p)
    np.testing.assert_array_equal(state.last_ts, last_t)
    assert not state.var_rate.any()  # the volatility moves at samples only
    assert state.skipped == skipped


def test_volatility_and_betas_are_recovered_from_simulated_prices() -> None:
    rng = np.random.default_rng(7)
    n_steps, dt_s = 20_000, 10
    betas = np.array([0.5, 1.0, 1.5, 2.0])
    sectors = ["a", "a", "b", "b"]
    market = rng.normal(0, 0.001, n_steps)
    idio = rng.normal(0, 0.0005, (n_steps, 4))
    logp = np.cumsum(market[:, None] * betas + idio, axis=0) + np.log(100.0)
    state = MarketState(["A", "B", "C", "D"], sectors, vol_halflife_s=3600.0, beta_alpha=0.01)
    ts = (np.arange(n_steps) * dt_s * 10**9).astype(np.int64)
    for k in range(n_steps):
        state.on_trades(np.arange(4), np.full(4, ts[k]), np.exp(logp[k]))
        state.sample(int(ts[k]))
    # equal-weighted market beta is relative to the mean beta (1.25)
    got = np.array([state.beta(s) for s in "ABCD"])
    np.testing.assert_allclose(got, betas / betas.mean(), rtol=0.15)
    true_vol = np.sqrt((betas[3] * 0.001) ** 2 + 0.0005**2) * math.sqrt(6.5 * 3600 / dt_s)
    assert abs(state.daily_vol("D") / true_vol - 1) < 0.15
    assert state.price("A") == np.exp(logp[-1, 0])
    assert state.sector_beta("A") > 0


@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**12),  # ns since the previous sample
            st.lists(
                st.one_of(st.floats(1.0, 200.0), st.just(0.0), st.just(50.0)),
                min_size=5,
                max_size=5,
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_return_sampling_kernel_matches_reference(steps: list[tuple[int, list[float]]]) -> None:
    from engine.market import reference_sample

    sectors = ["a", "a", "b", "b", "b"]
    state = MarketState(list("ABCDE"), sectors, beta_alpha=0.1, vol_halflife_s=900.0)
    beta = {"cov_mkt": [0.0] * 5, "var_mkt": [0.0], "cov_sec": [0.0] * 5, "var_sec": [0.0] * 5}
    vol: dict[str, list] = {"var_rate": [0.0] * 5, "vol_ts": [0] * 5}
    prev, b = [0.0] * 5, 0
    for gap, prices in steps:  # a repeated 50.0 is a price that has not moved
        b += gap
        state.last_price[:] = prices
        state.sample(b)
        prev = reference_sample(b, prices, prev, state.sector.tolist(), vol, beta, 900e9, 0.1)
    for name, want in beta.items():
        np.testing.assert_allclose(getattr(state, name), want, atol=1e-15)
    np.testing.assert_allclose(state.var_rate, vol["var_rate"], rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(state.vol_ts, vol["vol_ts"])


def test_a_price_that_has_not_moved_waits_and_the_next_move_spans_the_wait() -> None:
    """A night (or a quiet stretch) is one long return: no zero returns pull the volatility
    down, and its weight is that of the whole wait."""
    state = MarketState(["A", "B"], ["x", "x"], vol_halflife_s=1800.0)
    minute, night = 60 * 10**9, 17 * 3600 * 10**9
    state.last_price[:] = [100.0, 50.0]
    state.sample(minute)  # first prices: the clocks start
    state.last_price[:] = [101.0, 50.0]
    state.sample(2 * minute)
    r = math.log(101.0 / 100.0)
    first = (1 - 2 ** (-60 / 1800)) * r * r / 60
    assert state.var_rate[0] == pytest.approx(first, rel=1e-12)
    assert state.var_rate[1] == 0.0 and state.vol_ts[1] == minute
    state.sample(2 * minute + night)  # nothing moved overnight: nothing changes
    assert state.var_rate[0] == pytest.approx(first, rel=1e-12)
    state.last_price[:] = [99.0, 51.0]
    state.sample(3 * minute + night)
    r0, wait0 = math.log(99.0 / 101.0), 60 + night / 1e9
    want0 = first + (1 - 2 ** (-wait0 / 1800)) * (r0 * r0 / wait0 - first)
    r1, wait1 = math.log(51.0 / 50.0), 120 + night / 1e9
    want1 = (1 - 2 ** (-wait1 / 1800)) * r1 * r1 / wait1
    assert state.var_rate[0] == pytest.approx(want0, rel=1e-12)
    assert state.var_rate[1] == pytest.approx(want1, rel=1e-12)
    assert state.vol_ts.tolist() == [3 * minute + night] * 2
