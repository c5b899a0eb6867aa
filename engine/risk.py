"""Pre-trade risk for the daemon: order rate, daily loss halt, stale news, market hours, kill switch.

The engine's `RiskLimits` cap notional per symbol and in gross; `RiskManager` adds the checks a
live operator needs. Every refusal says why, so it can be journaled and shown.
"""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.clock import Clock
from engine.news import NewsItem
from engine.orders import OrderIntent

NS = 1_000_000_000


class RiskSettings(BaseModel):
    """Limits of the live risk checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_orders_per_minute: int = Field(60, ge=1)
    daily_loss_limit: float = Field(
        50_000.0, gt=0, description="halt when the day's PnL falls below minus this"
    )
    stale_news_seconds: float = Field(
        120.0, gt=0, description="older at receipt: journaled, not traded"
    )
    market_hours: Literal["auto", "enforce", "queue", "off"] = Field(
        "auto", description="auto: enforce for Alpaca, off for the simulated broker"
    )
    calendar: str = "XNYS"


class RiskManager:
    """Stateful checks over one trading day."""

    def __init__(self, settings: RiskSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.halted_reason = ""
        self.queued: list[OrderIntent] = []
        self._sent: collections.deque[int] = collections.deque()
        self._calendar: Any = None
        self._open_cache: dict[int, bool] = {}

    @property
    def halted(self) -> bool:
        """True after the kill switch or the daily loss limit."""
        return bool(self.halted_reason)

    def kill(self, reason: str = "kill switch") -> None:
        """Stop all trading until `resume`."""
        self.halted_reason = reason

    def resume(self) -> None:
        """Lift a halt (a new day, or an operator's decision)."""
        self.halted_reason = ""

    def news_is_stale(self, item: NewsItem) -> bool:
        """A headline received too long after publication is journaled but not traded."""
        return (item.ts_init - item.ts_event) > self.settings.stale_news_seconds * NS

    def on_day_pnl(self, pnl: float) -> None:
        """Report the day's PnL so far; halts once it breaches the loss limit."""
        if pnl <= -self.settings.daily_loss_limit and not self.halted:
            self.kill(
                f"daily loss {pnl:,.0f} beyond the limit {self.settings.daily_loss_limit:,.0f}"
            )

    def market_open(self, ts_ns: int) -> bool:
        """Whether the exchange calendar has the market open at this minute."""
        minute = ts_ns // (60 * NS)
        cached = self._open_cache.get(minute)
        if cached is None:
            if self._calendar is None:
                import exchange_calendars  # loaded only when market hours are checked

                self._calendar = exchange_calendars.get_calendar(self.settings.calendar)
            import pandas as pd

            stamp = pd.Timestamp(dt.datetime.fromtimestamp(minute * 60, tz=dt.UTC))
            cached = bool(self._calendar.is_open_on_minute(stamp))
            if len(self._open_cache) > 10_000:
                self._open_cache.clear()
            self._open_cache[minute] = cached
        return cached

    def check(self, intent: OrderIntent) -> str:
        """Reason to refuse the order now, or "" to send it. Queued orders return "queued"."""
        if self.halted:
            return f"trading halted: {self.halted_reason}"
        now = self.clock.now_ns()
        if self.settings.market_hours != "off" and not self.market_open(now):
            if self.settings.market_hours == "queue":
                self.queued.append(intent)
                return "queued until the market opens"
            return "market closed"
        while self._sent and now - self._sent[0] >= 60 * NS:
            self._sent.popleft()
        if len(self._sent) >= self.settings.max_orders_per_minute:
            return f"more than {self.settings.max_orders_per_minute} orders in a minute"
        self._sent.append(now)
        return ""

    def forget(self) -> None:
        """Drop the orders counted towards the per-minute limit and those queued for the open
        (a rehearsal's, which went nowhere: see `engine.live.warm`)."""
        self._sent.clear()
        self.queued.clear()

    def release_queued(self) -> list[OrderIntent]:
        """Orders queued while the market was closed, once it is open (empty otherwise)."""
        if not self.queued or not self.market_open(self.clock.now_ns()):
            return []
        ready, self.queued = self.queued, []
        return ready
