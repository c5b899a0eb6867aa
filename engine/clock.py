"""Clocks: everything that needs the time asks one of these, never `time.time()` directly.

`LiveClock` reads the wall clock; `SimClock` is moved forward by the backtest runner, so the same
strategy code sees the same times in a replay as it did live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Protocol


class Clock(Protocol):
    """Nanoseconds since the epoch, UTC."""

    def now_ns(self) -> int:
        """Return the current time."""
        ...


class LiveClock:
    """The wall clock."""

    def now_ns(self) -> int:
        """Return the wall-clock time."""
        return time.time_ns()


class SimClock:
    """A clock the runner moves forward; it never goes back.

    Timers set with `call_at` fire, in time order, when `advance_to` passes them; timers due at
    the same time fire in the order they were set (`seq` numbers them: a driver that keeps
    timers of its own, like the backtest runner's watch checks, draws from it and places them
    with `fire_before`).
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[tuple[int, int, Callable[[int], None]]] = []
        self.seq = 0  # sequence number of the next timer set

    def now_ns(self) -> int:
        """Return the simulated time."""
        return self._now

    def call_at(self, ts_ns: int, callback: Callable[[int], None]) -> None:
        """Run `callback(ts_ns)` when the clock reaches `ts_ns` (at once if it has)."""
        now, seq = self._now, self.seq
        self.seq = seq + 1
        heappush(self._timers, (ts_ns if ts_ns > now else now, seq, callback))

    def next_timer_ns(self) -> int | None:
        """When the next timer fires, or None."""
        return self._timers[0][0] if self._timers else None

    def advance_to(self, ts_ns: int) -> None:
        """Move to `ts_ns`, firing every timer due on the way at its own time."""
        if ts_ns < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {ts_ns}")
        timers = self._timers  # callbacks may set timers: the same list
        while timers and timers[0][0] <= ts_ns:
            due, _, callback = heappop(timers)
            self._now = due
            callback(due)
        self._now = ts_ns

    def move_to(self, ts_ns: int) -> None:
        """Move forward to `ts_ns` (never back) when the caller knows no timer is due before
        it (the runner, at a fill that comes before the next timer): `advance_to` without
        looking at the timers."""
        if ts_ns > self._now:
            self._now = ts_ns

    def fire_before(self, ts_ns: int, seq: int) -> None:
        """Move to `ts_ns`, firing the timers due before it and those due at it that were set
        before timer number `seq` (a driver's own timer due then runs next)."""
        if ts_ns < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {ts_ns}")
        timers = self._timers
        while timers and (timers[0][0] < ts_ns or (timers[0][0] == ts_ns and timers[0][1] < seq)):
            due, _, callback = heappop(timers)
            self._now = due
            callback(due)
        self._now = ts_ns


class ReplayClock:
    """Replayed time, moved forward by the replay feed as it plays each event.

    It reads the time of the event being played (never the wall clock), so a headline replayed
    at any speed is received at its own time and orders are stamped with it.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        """Return the replayed time."""
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move forward to `ts_ns` (never back)."""
        if ts_ns > self._now:
            self._now = ts_ns
