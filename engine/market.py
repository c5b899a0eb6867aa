"""Per-symbol market state folded from tick batches: last price, volatility, betas.

Python touches a batch, never a tick: `MarketState.on_trades` hands whole arrays to
`engine.kernels.market_nb`. In a backtest (`start_grid`) the same fold takes the return samples and
equity-mark times on fixed grids. `reference_fold`, `reference_sample`, `reference_grid` and
`reference_equity_at` are the plain-Python twins the kernel tests compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from engine.kernels.direct import compiled_for
from engine.kernels.market_nb import (
    G_LIMIT,
    G_N_MARKS,
    G_NEXT_MARK,
    G_SIZE,
    G_STEP_MARK,
    S_COV_MKT,
    S_COV_SEC,
    S_LAST_PRICE,
    S_PREV_PRICE,
    S_ROWS,
    S_VAR_RATE,
    S_VAR_SEC,
    T_LAST,
    T_ROWS,
    T_VOL,
    fold_grid_nb,
    fold_span_nb,
    fold_to_checked_nb,
    fold_to_nb,
    fold_trades_nb,
    grid_until_nb,
    sample_returns_nb,
    search_nb,
)
from engine.kernels.watch_nb import M_NEED, M_STATUS, STATUS_ROOM
from engine.watches import WatchBook

SECONDS_PER_SESSION = 6.5 * 3600


class _Synced:
    """A state array of `MarketState` (held as `_<name>`), read after any deferred fold is
    made (`MarketState.defer`)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = f"_{name}"

    def __get__(self, market: MarketState | None, owner: type | None = None) -> Any:
        if market is None:
            return self
        if market._due is not None:
            market.sync()
        return getattr(market, self.attr)


class MarketState:
    """Market view over a fixed list of symbols, each with a sector."""

    def __init__(
        self,
        symbols: Sequence[str],
        sectors: Sequence[str],
        *,
        vol_halflife_s: float = 1800.0,
        beta_alpha: float = 0.02,
    ) -> None:
        self.symbols = list(symbols)
        self.slot = {s: i for i, s in enumerate(self.symbols)}
        names = sorted(set(sectors))
        self.sector = np.array([names.index(x) for x in sectors], np.int64)
        self.n_sectors = len(names)
        n = len(self.symbols)
        # the float state per symbol: rows of one array, so `fold` hands the kernel one
        # argument for six (each row is a contiguous view, used as its own array)
        self._state = np.zeros((S_ROWS, n))
        self._last_price = self._state[S_LAST_PRICE]
        self._times = np.zeros((T_ROWS, n), np.int64)
        self._last_ts = self._times[T_LAST]
        self._vol_ts = self._times[T_VOL]
        self._var_rate = self._state[S_VAR_RATE]
        self._prev_price = self._state[S_PREV_PRICE]
        self._cov_mkt = self._state[S_COV_MKT]
        self._var_mkt = np.zeros(1)
        self._cov_sec = self._state[S_COV_SEC]
        self._var_sec = self._state[S_VAR_SEC]
        # rows for one number at a time: an item of a 1-D memoryview costs half a numpy `item`
        self._price_v, self._var_rate_v = self._last_price.data, self._var_rate.data
        self.halflife_ns = vol_halflife_s * 1e9
        self.beta_alpha = beta_alpha
        self._params = np.array([self.halflife_ns, beta_alpha])
        self._due: list[Any] | None = None  # a deferred fold (`defer`)
        self._skipped_count = 0  # trades skipped (see `skipped`), but for `fold_to`'s kernel,
        self._skipped_nb = np.zeros(1, np.int64)  # which adds them here
        self.grid: np.ndarray | None = None  # set by `start_grid` (backtests)
        self._marks = np.zeros(0, np.int64)
        # the replay's two folds, bound to a tape's arrays (`_bind_folds`)
        self._tape: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._fold_to_nb: Any = fold_to_nb
        self._fold_checked_nb: Any = fold_to_checked_nb

    last_price = _Synced("Last traded price per slot (0: none yet).")
    last_ts = _Synced("Time of the last trade per slot.")
    var_rate = _Synced("EWMA of squared sampled log returns per second, per slot.")
    vol_ts = _Synced("Time of the sample that last updated `var_rate`, per slot (0: none).")
    prev_price = _Synced("Price per slot at the last return sample.")
    cov_mkt = _Synced("EWMA covariance with the market's returns, per slot.")
    var_mkt = _Synced("EWMA variance of the market's returns (one value).")
    cov_sec = _Synced("EWMA covariance with the sector peers' returns, per slot.")
    var_sec = _Synced("EWMA variance of the sector peers' returns, per slot.")

    def defer(
        self, slots: np.ndarray, ts: np.ndarray, price: np.ndarray, lo: int, hi: int, limit: int
    ) -> None:
        """`fold(slots, ts, price, lo, hi)` with the grid's limit at `limit`, made when the
        state is next read (any reader syncs) or merged into the next fold that starts at `hi`
        with the same limit. The replay defers the fold up to each fill: most `on_fill`
        handlers read no price, so a stretch of fills costs one kernel call, not one each."""
        due = self._due
        if due is not None and (due[4] != lo or due[5] != limit):
            self.sync()
            due = None
        if due is None:
            self._due = [slots, ts, price, lo, hi, limit]
        else:
            due[4] = hi

    def sync(self) -> None:
        """Make the deferred fold (`defer`), if any."""
        due, self._due = self._due, None
        if due is not None:
            assert self.grid is not None
            self.grid[G_LIMIT] = due[5]
            self.fold(*due[:5])

    def _merge_due(self, lo: int, limit: int) -> int:
        """Before a fold from `lo` with grid limit `limit`: where to fold from, the deferred
        fold merged into it when it ends at `lo` under the same limit (one call, the same
        result), else made first."""
        due = self._due
        if due is None:
            return lo
        if due[4] == lo and due[5] == limit:
            self._due = None
            return int(due[3])
        self.sync()
        return lo

    def start_grid(self, start_ns: int, mark_every_ns: int, sample_every_ns: int) -> None:
        """Take return samples (for betas and volatility) and record equity-mark times on fixed
        grids while folding trades.

        The backtest runner uses this instead of calling `sample` between batches: a stretch
        with no trade and no event keeps only its first and last grid point. Before each batch,
        `set_limit` gives the time of the next engine event (headline or timer).
        """
        grid = np.zeros(G_SIZE, np.int64)
        grid[:] = (start_ns + mark_every_ns, start_ns + sample_every_ns, mark_every_ns,
                   sample_every_ns, -1, start_ns, 0)  # fmt: skip
        self.grid = grid
        self._marks = np.zeros(1024, np.int64)

    def set_limit(self, limit_ns: int) -> None:
        """Time of the next engine event: grid points at or after it wait for `grid_until`."""
        if self._due is not None:
            self.sync()
        assert self.grid is not None
        self.grid[G_LIMIT] = limit_ns

    def _room(self, n: int | None, last_ts: int) -> None:
        """Make room for the marks a call can take: never more than the grid points up to the
        later of its last trade and the limit, and (folding `n` trades) at most two a trade.

        Without trades (`grid_until`) every grid point before the limit may be taken: past the
        last trade, quiet stretches are not skipped."""
        grid = self.grid
        assert grid is not None
        if n is not None and self._marks.shape[0] - grid.item(G_N_MARKS) >= 2 * n + 8:
            return  # room enough whatever the grid: the common case, checked first
        upper = max(int(grid[G_LIMIT]), last_ts)
        step = int(grid[G_STEP_MARK])
        span = max(0, (upper - int(grid[G_NEXT_MARK])) // step) + 2
        need = int(grid[G_N_MARKS]) + (span if n is None else min(2 * n + 8, span))
        if need > self._marks.shape[0]:
            grown = np.zeros(max(need, 2 * self._marks.shape[0]), np.int64)
            grown[: self._marks.shape[0]] = self._marks
            self._marks = grown

    def grid_until(self, next_ts: int, has_next: bool, end_ns: int, at_limit: bool) -> None:
        """Take the grid points before the limit (and at it with `at_limit`); see the kernel."""
        if self._due is not None:
            self.sync()
        assert self.grid is not None
        self._room(None, max(next_ts, end_ns))
        grid_until_nb(
            next_ts, next_ts if has_next else end_ns, has_next, at_limit, self._state,
            self._times, self._var_mkt, self.sector, self.n_sectors, self._params, self.grid,
            self._marks,
        )  # fmt: skip

    @property
    def mark_times(self) -> np.ndarray:
        """Equity-mark times taken on the grid so far."""
        if self._due is not None:
            self.sync()
        n = int(self.grid[G_N_MARKS]) if self.grid is not None else 0
        return self._marks[:n].copy()

    def slots_of(self, symbols: Sequence[str]) -> np.ndarray:
        """Slot of each symbol, -1 for symbols not tracked."""
        return np.fromiter(map(self.slot.get, symbols, repeat(-1)), np.int64, len(symbols))

    def on_trades(self, slots: np.ndarray, ts: np.ndarray, price: np.ndarray) -> None:
        """Fold a batch of trades (slots from `slots_of`, ts in ns, prices)."""
        if self._due is not None:
            self.sync()
        if self.grid is None:
            self._skipped_count += fold_trades_nb(slots, ts, price, self._last_price, self._last_ts)
            return
        self._room(ts.shape[0], int(ts[-1]) if ts.shape[0] else 0)
        self._skipped_count += fold_grid_nb(
            slots, ts, price, self._state, self._times, self._var_mkt, self.sector,
            self.n_sectors, self._params, self.grid, self._marks,
        )  # fmt: skip

    def fold(self, slots: np.ndarray, ts: np.ndarray, price: np.ndarray, lo: int, hi: int) -> None:
        """`on_trades(slots[lo:hi], ts[lo:hi], price[lo:hi])` in one kernel call when the
        grid runs (the engine folds up to each fill: tens of thousands of small spans)."""
        if self._due is not None:
            self.sync()
        if self.grid is not None:
            skipped = fold_span_nb(
                slots, ts, price, lo, hi, self._state, self._times, self._var_mkt, self.sector,
                self.n_sectors, self._params, self.grid, self._marks,
            )  # fmt: skip
            if skipped >= 0:
                self._skipped_count += skipped
                return
        self.on_trades(slots[lo:hi], ts[lo:hi], price[lo:hi])  # no grid, or marks need room

    def fold_to(
        self, slots: np.ndarray, ts: np.ndarray, price: np.ndarray, lo: int, hi: int, limit: int
    ) -> int:
        """Set the limit (the next engine event), fold the trades of `lo:hi` before it and take
        the grid points before it when a trade follows (past the last trade, `grid_until`
        takes them); return the index of the first trade not folded. The replay's step from
        one event to the next, in one kernel call."""
        lo = self._merge_due(lo, limit)
        assert self.grid is not None, "fold_to needs the grid (start_grid)"
        self._bind_folds(slots, ts, price)
        j = self._fold_to_nb(
            slots, ts, price, lo, hi, limit, self._state, self._times, self._var_mkt,
            self.sector, self.n_sectors, self._params, self.grid, self._marks, self._skipped_nb,
        )  # fmt: skip
        if j >= 0:
            return int(j)
        j = search_nb(ts, lo, hi, limit, False)  # marks need room: the same in steps
        self.set_limit(limit)
        self.on_trades(slots[lo:j], ts[lo:j], price[lo:j])
        if j < ts.shape[0]:
            self.grid_until(int(ts[j]), True, int(ts[j]), at_limit=False)
        return int(j)

    def fold_checked(
        self, slots: np.ndarray, ts: np.ndarray, price: np.ndarray, lo: int, hi: int,
        limit: int, until: int, tail: bool, watches: WatchBook,
    ) -> int:  # fmt: skip
        """`fold_to` (with `tail`; `fold` of the trades before `until` without) that runs the
        watch checks due before `until` on the way and stops at one that finds a watch out of
        its band (`fold_to_checked_nb`: `watches.meta` says where it stopped). Returns the
        index of the first trade not folded."""
        lo = self._merge_due(lo, limit)
        assert self.grid is not None, "fold_checked needs the grid (start_grid)"
        self._bind_folds(slots, ts, price)
        meta = watches.meta
        while True:
            j: int = self._fold_checked_nb(
                slots, ts, price, lo, hi, limit, until, tail, self._state, self._times,
                self._var_mkt, self.sector, self.n_sectors, self._params, self.grid,
                self._marks, self._skipped_nb, watches.chains, watches.wf, watches.wi, meta,
            )  # fmt: skip
            if meta.item(M_STATUS) != STATUS_ROOM:
                return j
            lo, need = j, int(self.grid[G_N_MARKS]) + meta.item(M_NEED)
            grown = np.zeros(max(need, 2 * self._marks.shape[0]), np.int64)
            grown[: self._marks.shape[0]] = self._marks
            self._marks = grown

    def _bind_folds(self, slots: np.ndarray, ts: np.ndarray, price: np.ndarray) -> None:
        """Make `fold_to` and `fold_checked` call their kernels' machine code for this
        tape's arrays without numba's dispatch (`compiled_for`), unless bound to them already.
        The other arguments are this state's arrays, and a watch book's, whose types never
        change."""
        tape = self._tape
        if tape is not None and tape[0] is slots and tape[1] is ts and tape[2] is price:
            return
        book = WatchBook({})  # its arrays' types, as every book has them
        self._fold_to_nb = compiled_for(
            fold_to_nb, slots, ts, price, 0, 0, 0, self._state, self._times, self._var_mkt,
            self.sector, self.n_sectors, self._params, self.grid, self._marks, self._skipped_nb,
        )  # fmt: skip
        self._fold_checked_nb = compiled_for(
            fold_to_checked_nb, slots, ts, price, 0, 0, 0, 0, True, self._state, self._times,
            self._var_mkt, self.sector, self.n_sectors, self._params, self.grid, self._marks,
            self._skipped_nb, book.chains, book.wf, book.wi, book.meta,
        )  # fmt: skip
        self._tape = (slots, ts, price)

    @property
    def skipped(self) -> int:
        """Trades left out of the state so far: untracked symbols, bad prices, out of order."""
        if self._due is not None:
            self.sync()
        return self._skipped_count + int(self._skipped_nb[0])

    def sample(self, now_ns: int) -> None:
        """Take a sample at `now_ns` of the returns since the previous one, for the betas
        and volatilities (call it every fixed interval: the daemon and backtests every 60 s)."""
        if self._due is not None:
            self.sync()
        sample_returns_nb(
            now_ns, self._state, self._times, self._var_mkt, self.sector, self.n_sectors,
            self._params,
        )  # fmt: skip

    def _exposures(self, positions: dict[str, float]) -> np.ndarray:
        if self._due is not None:
            self.sync()
        slots = self.slots_of(list(positions))
        qty = np.fromiter(positions.values(), np.float64, len(positions))
        known = slots >= 0
        out: np.ndarray = qty[known] * self._last_price[slots[known]]
        return out

    def mark(self, positions: dict[str, float]) -> float:
        """Value of positions at the last prices (untracked symbols count as 0)."""
        return float(self._exposures(positions).sum()) if positions else 0.0

    def gross(self, positions: dict[str, float]) -> float:
        """Sum of |position value| at the last prices."""
        return float(np.abs(self._exposures(positions)).sum()) if positions else 0.0

    # `.item` hands back Python floats (the same values): strategies call these per leg
    def price(self, symbol: str) -> float:
        """Last traded price, or NaN if none yet (or the symbol is not tracked)."""
        if self._due is not None:
            self.sync()
        s = self.slot.get(symbol)
        p = self._price_v[s] if s is not None else 0.0
        return p if p > 0.0 else math.nan  # a float literal: 3.11 specialises float compares

    def daily_vol(self, symbol: str) -> float:
        """Volatility of a 6.5-hour session implied by the recent sampled returns."""
        if self._due is not None:
            self.sync()
        s = self.slot.get(symbol)
        return math.sqrt(self._var_rate_v[s] * SECONDS_PER_SESSION) if s is not None else math.nan

    def beta(self, symbol: str) -> float:
        """EWMA beta to the equal-weighted market of tracked symbols (1.0 before data)."""
        if self._due is not None:
            self.sync()
        v, s = self._var_mkt.item(0), self.slot.get(symbol)
        return self._cov_mkt.item(s) / v if v > 0 and s is not None else 1.0

    def sector_beta(self, symbol: str) -> float:
        """EWMA beta to the symbol's sector peers (1.0 before data)."""
        if self._due is not None:
            self.sync()
        s = self.slot.get(symbol)
        if s is None:
            return 1.0
        v = self._var_sec.item(s)
        return self._cov_sec.item(s) / v if v > 0 else 1.0


def reference_fold(
    slots: Sequence[int], ts: Sequence[int], price: Sequence[float], n: int
) -> tuple[list[float], list[int], int]:
    """Plain-Python twin of `fold_trades_nb` from an empty state."""
    last_p, last_t = [0.0] * n, [0] * n
    skipped = 0
    for s, t, p in zip(slots, ts, price, strict=True):
        if s < 0 or not (p > 0.0) or not math.isfinite(p) or (last_p[s] > 0.0 and t < last_t[s]):
            skipped += 1
            continue
        last_p[s], last_t[s] = p, t
    return last_p, last_t, skipped


def reference_sample(
    b: int,
    last: Sequence[float],
    prev: Sequence[float],
    sector: Sequence[int],
    vol: dict[str, list[Any]],
    beta: dict[str, list[float]],
    halflife_ns: float,
    alpha: float,
) -> list[float]:
    """Plain-Python twin of `sample_returns_nb` at time `b`; updates `vol` (`var_rate`,
    `vol_ts`) and `beta` (`cov_mkt`, `var_mkt`, `cov_sec`, `var_sec`) in place, returns the
    new previous prices."""
    rets = {s: math.log(last[s] / prev[s]) for s in range(len(last)) if last[s] > 0 and prev[s] > 0}
    for s in range(len(last)):
        if last[s] > 0 and not prev[s] > 0:
            vol["vol_ts"][s] = b
        elif s in rets and rets[s] != 0.0 and b > vol["vol_ts"][s]:
            dt = b - vol["vol_ts"][s]
            weight = 1.0 - math.exp(-math.log(2.0) * dt / halflife_ns)
            vol["var_rate"][s] += weight * (rets[s] ** 2 / (dt * 1e-9) - vol["var_rate"][s])
            vol["vol_ts"][s] = b
    if rets:
        mkt = sum(rets.values()) / len(rets)
        beta["var_mkt"][0] += alpha * (mkt * mkt - beta["var_mkt"][0])
    for s, r in rets.items():
        beta["cov_mkt"][s] += alpha * (r * mkt - beta["cov_mkt"][s])
        others = [rets[o] for o in rets if o != s and sector[o] == sector[s]]
        if others:
            peers = sum(others) / len(others)
            beta["cov_sec"][s] += alpha * (r * peers - beta["cov_sec"][s])
            beta["var_sec"][s] += alpha * (peers * peers - beta["var_sec"][s])
    return list(last)


def reference_grid(
    ts: Sequence[int], events: Sequence[int], start: int, step_mark: int, step_sample: int
) -> tuple[list[int], list[int]]:
    """Plain-Python twin of the replay grid (`fold_grid_nb`, `grid_until_nb`).

    The event loop of the backtest as it was written before the kernels took the grid over:
    boundaries at the engine's events (sorted `events`: headlines and timers), at equity marks
    and at return samples; a grid boundary with no trade since the previous boundary makes both
    grids jump to their last point at or before the next trade or event. Returns the mark
    times and the sample times taken.
    """
    n = len(ts)
    end = ts[-1] + 1 if n else start
    next_mark, next_sample = start + step_mark, start + step_sample
    marks: list[int] = []
    samples: list[int] = []
    k = 0
    for i in range(len(events) + 1):
        limit = events[i] if i < len(events) else end
        while True:
            boundary = min(limit, next_mark, next_sample)
            if boundary in (next_mark, next_sample) and (k >= n or ts[k] > boundary):
                quiet_until = min(ts[k] if k < n else end, limit)
                next_mark += max(0, (quiet_until - next_mark) // step_mark) * step_mark
                next_sample += max(0, (quiet_until - next_sample) // step_sample) * step_sample
                boundary = min(limit, next_mark, next_sample)
            while k < n and ts[k] < boundary:
                k += 1
            if boundary == next_sample:
                samples.append(boundary)
                next_sample += step_sample
            if boundary == next_mark:
                marks.append(boundary)
                next_mark += step_mark
            if boundary >= limit:
                break
        if limit >= end and i >= len(events) - 1 and k >= n:
            break
    return marks, samples


def reference_equity_at(
    trades: Sequence[tuple[int, int, float]],
    fills: Sequence[tuple[int, int, int, float, float, float]],
    marks: Sequence[int],
    cash0: Sequence[float],
) -> list[list[float]]:
    """Plain-Python twin of `equity_at_nb`: trades (ts, slot, price), fills (ts, slot, book,
    qty, price, commission); equity of each book at each mark from what came before it."""
    out = []
    for g in marks:
        last: dict[int, float] = {}
        for t, s, p in trades:
            if t < g and s >= 0 and p > 0 and math.isfinite(p):
                last[s] = p
        row = []
        for b, c0 in enumerate(cash0):
            cash, pos = c0, dict[int, float]()
            for t, s, book, q, p, fee in fills:
                if t < g and book == b:
                    cash -= q * p + fee
                    pos[s] = pos.get(s, 0.0) + q
            row.append(cash + sum(q * last.get(s, 0.0) for s, q in pos.items()))
        out.append(row)
    return out
