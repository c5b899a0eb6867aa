"""Market-state kernels agree with their plain-Python references and recover known betas."""

import math

import numpy as np
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
    last_p, last_t, var, skipped = reference_fold(slots.tolist(), ts.tolist(), px.tolist(), 4, 60e9)
    np.testing.assert_allclose(state.last_price, last_p)
    np.testing.assert_array_equal(state.last_ts, last_t)
    np.testing.assert_allclose(state.var_rate, var, rtol=1e-9, atol=1e-15)
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
        state.sample()
    # equal-weighted market beta is relative to the mean beta (1.25)
    got = np.array([state.beta(s) for s in "ABCD"])
    np.testing.assert_allclose(got, betas / betas.mean(), rtol=0.15)
    true_vol = np.sqrt((betas[3] * 0.001) ** 2 + 0.0005**2) * math.sqrt(6.5 * 3600 / dt_s)
    assert abs(state.daily_vol("D") / true_vol - 1) < 0.15
    assert state.price("A") == np.exp(logp[-1, 0])
    assert state.sector_beta("A") > 0


@given(
    st.lists(
        st.lists(st.one_of(st.floats(1.0, 200.0), st.just(0.0)), min_size=5, max_size=5),
        min_size=1,
        max_size=30,
    )
)
def test_beta_sampling_kernel_matches_reference(paths: list[list[float]]) -> None:
    from engine.market import reference_sample

    sectors = ["a", "a", "b", "b", "b"]
    state = MarketState(list("ABCDE"), sectors, beta_alpha=0.1)
    ref = {"cov_mkt": [0.0] * 5, "var_mkt": [0.0], "cov_sec": [0.0] * 5, "var_sec": [0.0] * 5}
    prev = [0.0] * 5
    for prices in paths:
        state.last_price[:] = prices
        state.sample()
        prev = reference_sample(prices, prev, state.sector.tolist(), alpha=0.1, **ref)
    np.testing.assert_allclose(state.cov_mkt, ref["cov_mkt"], atol=1e-15)
    np.testing.assert_allclose(state.var_mkt, ref["var_mkt"], atol=1e-15)
    np.testing.assert_allclose(state.cov_sec, ref["cov_sec"], atol=1e-15)
    np.testing.assert_allclose(state.var_sec, ref["var_sec"], atol=1e-15)
