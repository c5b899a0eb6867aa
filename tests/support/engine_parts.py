"""Small stand-ins tests hand the engine and the runner: a clock set by hand, a broker that
records, no news."""

from __future__ import annotations

import polars as pl

from engine.orders import OrderIntent


class ManualClock:
    """A live-style clock whose time the test sets (`t`, ns)."""

    def __init__(self, t: int = 0) -> None:
        self.t = t

    def now_ns(self) -> int:
        return self.t


class RecordingBroker:
    """Accepts every order and keeps it, in the order sent."""

    def __init__(self) -> None:
        self.sent: list[OrderIntent] = []

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        self.sent.append(intent)
        return True


def no_news() -> pl.DataFrame:
    """A news frame with `load_news`'s columns and no rows."""
    return pl.DataFrame(
        {"id": [], "headline": [], "summary": [], "symbols": [], "source": [], "ts_event": []},
        schema={"id": pl.String, "headline": pl.String, "summary": pl.String,
                "symbols": pl.List(pl.String), "source": pl.String, "ts_event": pl.Int64},
    )  # fmt: skip
