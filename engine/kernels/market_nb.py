"""Fold batches of trades into per-symbol market state (reference: `engine.market.reference`).

State per symbol slot: last price and time, and, from returns sampled on a common clock (every
60 s in a backtest and in the daemon), an EWMA of squared log returns per second (so the
volatility of any horizon follows) and EWMA betas to the market and to the symbol's sector.
Folding a trade only stores its price and time: the returns are taken at the samples.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.kernels.watch_nb import (
    CH_NEXT,
    M_FIRED_TS,
    M_NEED,
    M_STATUS,
    STATUS_CHECK,
    STATUS_DONE,
    STATUS_ROOM,
    chain_pnl_nb,
    next_check_nb,
    pass_check_nb,
)

# rows of the float state (one (S_ROWS, symbols) array: kernels take one argument for six)
S_LAST_PRICE = 0
S_VAR_RATE = 1
S_PREV_PRICE = 2
S_COV_MKT = 3
S_COV_SEC = 4
S_VAR_SEC = 5
S_ROWS = 6
# rows of the int64 times per symbol
T_LAST = 0  # the last trade's time
T_VOL = 1  # the sample that last updated the volatility (0: none yet)
T_ROWS = 2
# `params`: (volatility half-life in ns, the betas' EWMA weight per sample)
P_HALFLIFE_NS = 0
P_BETA_ALPHA = 1


@njit(cache=True, inline="always")
def _fold_trade_nb(s: int, t: int, p: float, last_price: np.ndarray, last_ts: np.ndarray) -> bool:
    """Fold one trade into its slot; False (skipped) for an unknown slot, a bad price or a
    trade older than the slot's last."""
    if s < 0 or not (p > 0.0) or not math.isfinite(p):
        return False
    if last_price[s] > 0.0 and t < last_ts[s]:
        return False
    last_price[s] = p
    last_ts[s] = t
    return True


@njit(cache=True)
def fold_trades_nb(
    slots: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    last_price: np.ndarray,
    last_ts: np.ndarray,
) -> int:
    """Apply trades in order; return how many were skipped (unknown slot, bad price, stale:
    older than the symbol's last trade)."""
    skipped = 0
    for k in range(slots.shape[0]):
        if not _fold_trade_nb(slots[k], ts[k], price[k], last_price, last_ts):
            skipped += 1
    return skipped


@njit(cache=True)
def sample_returns_nb(
    b: int,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
) -> None:
    """Take one sample at time `b` of the returns since the previous sample and update the
    EWMA betas and volatilities.

    Betas: the market return is the equal-weighted mean over the symbols with a price at both
    samples; a sector's return is the mean over its other members (so a symbol is not
    regressed on itself); every sample weighs `params[P_BETA_ALPHA]`.

    Volatility: a symbol whose price moved since its last update adds r^2 / dt, dt being the
    seconds since that update, with the weight 1 - 2^(-dt / half-life). A price that has not
    moved waits and its time runs on (as trade-to-trade returns do), so a night or a quiet
    stretch is one long return, not many zero ones.
    """
    last_price = state[S_LAST_PRICE]
    prev_price = state[S_PREV_PRICE]
    var_rate = state[S_VAR_RATE]
    cov_mkt = state[S_COV_MKT]
    cov_sec = state[S_COV_SEC]
    var_sec = state[S_VAR_SEC]
    vol_ts = times[T_VOL]
    halflife_ns = params[P_HALFLIFE_NS]
    alpha = params[P_BETA_ALPHA]
    n = last_price.shape[0]
    r = np.zeros(n)
    ok = np.zeros(n, np.bool_)
    sec_sum = np.zeros(n_sectors)
    sec_cnt = np.zeros(n_sectors, np.int64)
    mkt = 0.0
    cnt = 0
    ln2 = math.log(2.0)
    seen_dt = -1  # most symbols share dt (one sample step): one exp for them all
    a = 0.0
    for s in range(n):
        if not last_price[s] > 0.0:
            continue
        if not prev_price[s] > 0.0:
            vol_ts[s] = b  # a first price: its volatility clock starts here
            continue
        rs = math.log(last_price[s] / prev_price[s])
        r[s] = rs
        ok[s] = True
        mkt += rs
        cnt += 1
        sec_sum[sector[s]] += rs
        sec_cnt[sector[s]] += 1
        dt = b - vol_ts[s]
        if rs != 0.0 and dt > 0:
            if dt != seen_dt:
                seen_dt = dt
                a = 1.0 - math.exp(-ln2 * dt / halflife_ns)
            var_rate[s] += a * (rs * rs / (dt * 1e-9) - var_rate[s])
            vol_ts[s] = b
    if cnt > 0:
        mkt /= cnt
        var_mkt[0] += alpha * (mkt * mkt - var_mkt[0])
    for s in range(n):
        if ok[s]:
            cov_mkt[s] += alpha * (r[s] * mkt - cov_mkt[s])
            g = sector[s]
            if sec_cnt[g] > 1:
                peers = (sec_sum[g] - r[s]) / (sec_cnt[g] - 1)
                cov_sec[s] += alpha * (r[s] * peers - cov_sec[s])
                var_sec[s] += alpha * (peers * peers - var_sec[s])
        prev_price[s] = last_price[s]


# Replay grid state (int64 array) used by `fold_grid_nb`: the backtest's equity marks and return
# samples fall on two fixed grids; a stretch with no trade and no event collapses to its first
# and last grid point (quiet stretches are skipped).
G_NEXT_MARK = 0
G_NEXT_SAMPLE = 1
G_STEP_MARK = 2
G_STEP_SAMPLE = 3
G_PENDING = 4  # the next boundary once decided, else -1
G_LIMIT = 5  # time of the next engine event (headline or timer): no boundary at or past it here
G_N_MARKS = 6
G_SIZE = 7


@njit(cache=True)
def _take_boundary_nb(
    b: int,
    grid: np.ndarray,
    marks: np.ndarray,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
) -> None:
    if b == grid[G_NEXT_SAMPLE]:
        sample_returns_nb(b, state, times, var_mkt, sector, n_sectors, params)
        grid[G_NEXT_SAMPLE] += grid[G_STEP_SAMPLE]
    if b == grid[G_NEXT_MARK]:
        if grid[G_N_MARKS] >= marks.shape[0]:
            raise IndexError("mark buffer full: the caller sizes it before each call")
        marks[grid[G_N_MARKS]] = b
        grid[G_N_MARKS] += 1
        grid[G_NEXT_MARK] += grid[G_STEP_MARK]


@njit(cache=True)
def _boundaries_before_nb(
    t_next: int,
    t_quiet: int,
    has_next: bool,
    grid: np.ndarray,
    marks: np.ndarray,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
) -> None:
    """Take every grid boundary that comes before the next trade (at `t_next`) and the limit.

    A boundary b is taken once every trade before b is folded; when no trade falls between the
    previous boundary and b, both grids jump to their last point at or before the next trade
    (`t_quiet`) or the limit, whichever is first.
    """
    limit = grid[G_LIMIT]
    while True:
        if grid[G_PENDING] < 0:
            b = min(grid[G_NEXT_MARK], grid[G_NEXT_SAMPLE])
            if b >= limit:
                return
            if not has_next or t_next > b:
                quiet_until = min(t_quiet, limit)
                jump = (quiet_until - grid[G_NEXT_MARK]) // grid[G_STEP_MARK]
                if jump > 0:
                    grid[G_NEXT_MARK] += jump * grid[G_STEP_MARK]
                jump = (quiet_until - grid[G_NEXT_SAMPLE]) // grid[G_STEP_SAMPLE]
                if jump > 0:
                    grid[G_NEXT_SAMPLE] += jump * grid[G_STEP_SAMPLE]
                b = min(grid[G_NEXT_MARK], grid[G_NEXT_SAMPLE])
                if b >= limit:
                    return
            grid[G_PENDING] = b
        b = grid[G_PENDING]
        if has_next and t_next < b:
            return
        _take_boundary_nb(b, grid, marks, state, times, var_mkt, sector, n_sectors, params)
        grid[G_PENDING] = -1


@njit(cache=True)
def _grid_due_nb(grid: np.ndarray) -> int:
    """The time from which a trade has grid points to take before it: the pending boundary,
    else at once when a grid point comes before the limit (to decide the next boundary),
    else never (until the limit moves: a new call)."""
    if grid[G_PENDING] >= 0:
        return int(grid[G_PENDING])
    if min(grid[G_NEXT_MARK], grid[G_NEXT_SAMPLE]) < grid[G_LIMIT]:
        return -(2**63)
    return 2**63 - 1


@njit(cache=True)
def fold_grid_nb(
    slots: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
) -> int:
    """`fold_trades_nb`, taking the grid's return samples and equity-mark times on the way.

    A boundary at b sees the trades before b (not those at b). Returns the trades skipped.
    `marks` needs room for 2 * len(ts) + 4 more mark times. Checked against
    `engine.market.reference_fold`/`reference_grid`.
    """
    skipped = 0
    last_price = state[S_LAST_PRICE]
    last_ts = times[T_LAST]
    due = _grid_due_nb(grid)
    for k in range(ts.shape[0]):
        t = ts[k]
        if t >= due:
            _boundaries_before_nb(
                t, t, True, grid, marks, state, times, var_mkt, sector, n_sectors, params
            )
            due = _grid_due_nb(grid)
        if not _fold_trade_nb(slots[k], t, price[k], last_price, last_ts):
            skipped += 1
    return skipped


@njit(cache=True)
def grid_until_nb(
    t_next: int,
    t_quiet: int,
    has_next: bool,
    at_limit: bool,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
) -> None:
    """Take the boundaries before the limit once every trade before it is folded.

    `t_next` is the first trade at or after the limit (`has_next` False: none, and `t_quiet` is
    the end of the data). With `at_limit`, also take a boundary that falls exactly on the limit
    (call it after the timers due then have fired, before a headline received then).
    """
    _boundaries_before_nb(
        t_next, t_quiet, has_next, grid, marks, state, times, var_mkt, sector, n_sectors, params
    )
    if at_limit and min(grid[G_NEXT_MARK], grid[G_NEXT_SAMPLE]) == grid[G_LIMIT]:
        _take_boundary_nb(
            grid[G_LIMIT], grid, marks, state, times, var_mkt, sector, n_sectors, params
        )


@njit(cache=True)
def fold_span_nb(
    slots: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    lo: int,
    hi: int,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
) -> int:
    """`fold_grid_nb` over trades `lo:hi` (no slices made in Python). Returns the trades
    skipped, or -1 (nothing done) when `marks` lacks the room `fold_grid_nb` needs
    (2 * trades + 8 more): make room, then call again.
    """
    if marks.shape[0] - grid[G_N_MARKS] < 2 * (hi - lo) + 8:
        return -1
    return fold_grid_nb(
        slots[lo:hi], ts[lo:hi], price[lo:hi], state, times, var_mkt, sector, n_sectors, params,
        grid, marks,
    )  # fmt: skip


@njit(cache=True)
def search_nb(ts: np.ndarray, lo: int, hi: int, t: int, right: bool) -> int:
    """`lo + np.searchsorted(ts[lo:hi], t, side="right" if right else "left")` on sorted `ts`
    (reference: `bisect`): where the replay cuts the tape at an event or a fill, without a
    numpy call and its key conversion (about a quarter of the time on a window)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if ts[mid] < t or (right and ts[mid] == t):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def fold_to_nb(
    slots: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    lo: int,
    hi: int,
    limit: int,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
    skipped: np.ndarray,
) -> int:
    """Up to the next engine event at `limit`, in one call: set the grid's limit, fold the
    trades of `lo:hi` before it (`fold_span_nb`), then, if a trade follows, take the grid points
    before the limit (`grid_until_nb` with that trade). Adds the trades skipped to
    `skipped[0]`; returns the index of the first trade not folded, or -1 (nothing done) when
    `marks` lacks room for 2 * trades + 8 more. Past the last trade the caller takes the grid
    points (`grid_until_nb` without a next trade: quiet stretches are not skipped there).
    """
    grid[G_LIMIT] = limit
    j = search_nb(ts, lo, hi, limit, False)
    skipped_now = fold_span_nb(
        slots, ts, price, lo, j, state, times, var_mkt, sector, n_sectors, params, grid, marks
    )
    if skipped_now < 0:
        return -1
    skipped[0] += skipped_now
    if j < ts.shape[0]:
        _grid_before_trade_nb(j, ts, state, times, var_mkt, sector, n_sectors, params, grid, marks)
    return j


@njit(cache=True)
def _grid_before_trade_nb(
    k: int,
    ts: np.ndarray,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
) -> None:
    """Take the grid points before trade `k` (and before the grid's limit), the trades before
    it being folded: `_boundaries_before_nb` with that trade as the next one."""
    _boundaries_before_nb(
        ts[k], ts[k], True, grid, marks, state, times, var_mkt, sector, n_sectors, params
    )


@njit(cache=True)
def _grid_at_timer_nb(
    at: int,
    k: int,
    ts: np.ndarray,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
) -> None:
    """The grid's steps around a timer at `at` that the replay handles (the trades before it
    folded, `k` the next): the points before it, then the one at it, as the runner takes them
    (`fold_to_nb` with limit `at`, `grid_until` past the last trade, the timer, then
    `grid_until` at the limit; taking the points before the limit twice is taking them once).
    A timer ends a quiet stretch, so a check that calls nothing still leaves the grid as a
    timer there always did."""
    n = ts.shape[0]
    t_next = ts[k] if k < n else (ts[n - 1] + 1 if n > 0 else at)  # past the last: the end
    grid[G_LIMIT] = at
    grid_until_nb(
        t_next, t_next, k < n, True, state, times, var_mkt, sector, n_sectors, params, grid, marks
    )


@njit(cache=True)
def fold_to_checked_nb(
    slots: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    lo: int,
    hi: int,
    limit: int,
    until: int,
    tail: bool,
    state: np.ndarray,
    times: np.ndarray,
    var_mkt: np.ndarray,
    sector: np.ndarray,
    n_sectors: int,
    params: np.ndarray,
    grid: np.ndarray,
    marks: np.ndarray,
    skipped: np.ndarray,
    chains: np.ndarray,
    wf: np.ndarray,
    wi: np.ndarray,
    meta: np.ndarray,
) -> int:
    """`fold_to_nb` (with `tail`, where `until` is the limit; `fold_span_nb` without) over the
    trades of `lo:hi` before `until`, running on the way the watch checks due before `until`
    (layout: `engine.kernels.watch_nb`). A check sees the trades before its time, as a timer
    does.

    A check that finds every watch in its band moves its chain on (`pass_check_nb`) and the
    fold goes on; at one that finds a watch out of its band the fold stops: the trades before
    it are folded, the grid's limit is set to its time and the grid points before it taken (as
    `fold_to_nb` with that limit), `meta` says when (`M_STATUS` = `STATUS_CHECK`), and the
    caller fires it (the chain due first, `next_check_nb`). `M_STATUS` is `STATUS_DONE` when
    the fold reached `until`, `STATUS_ROOM` when `marks` lacks room (trades before the index
    returned are folded: make room, call again from there). Returns the index of the first
    trade not folded.
    """
    grid[G_LIMIT] = limit
    last_price = state[S_LAST_PRICE]
    k = lo
    while True:
        c = next_check_nb(chains)
        if c < 0 or chains[CH_NEXT, c] >= until:
            break
        at = chains[CH_NEXT, c]
        j = search_nb(ts, k, hi, at, False)
        # room for the fold and the grid points around the check (past the last trade they
        # are not skipped: one a step)
        need = 2 * (j - k) + 16
        if j >= ts.shape[0]:
            need += max(0, (at - grid[G_NEXT_MARK]) // grid[G_STEP_MARK]) + 2
        if marks.shape[0] - grid[G_N_MARKS] < need:
            meta[M_STATUS], meta[M_NEED] = STATUS_ROOM, need
            return k
        # room checked above: the fold's own check (2 * trades + 8) passes
        skipped[0] += fold_span_nb(
            slots, ts, price, k, j, state, times, var_mkt, sector, n_sectors, params, grid,
            marks,
        )  # fmt: skip
        k = j
        if chain_pnl_nb(c, last_price, wf, wi, meta):
            grid[G_LIMIT] = at  # as `fold_to_nb` with the check's time as the limit
            if k < ts.shape[0]:
                _grid_before_trade_nb(
                    k, ts, state, times, var_mkt, sector, n_sectors, params, grid, marks
                )
            meta[M_FIRED_TS], meta[M_STATUS] = at, STATUS_CHECK
            return k
        pass_check_nb(c, chains, wi, meta)
        _grid_at_timer_nb(
            at, k, ts, state, times, var_mkt, sector, n_sectors, params, grid, marks
        )  # fmt: skip
        grid[G_LIMIT] = limit
    j = search_nb(ts, k, hi, until, False)
    done = fold_span_nb(
        slots, ts, price, k, j, state, times, var_mkt, sector, n_sectors, params, grid, marks
    )
    if done < 0:
        meta[M_STATUS], meta[M_NEED] = STATUS_ROOM, 2 * (j - k) + 8
        return k
    skipped[0] += done
    if tail and j < ts.shape[0]:  # `fold_to_nb`'s last step (`until` is the limit)
        _grid_before_trade_nb(j, ts, state, times, var_mkt, sector, n_sectors, params, grid, marks)
    meta[M_STATUS] = STATUS_DONE
    return j
