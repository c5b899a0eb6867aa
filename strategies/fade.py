"""Fade an overreaction: if the named company ran too far on the news, trade against it.

When a subject's shock clears the threshold, note its price at receipt and its expected move
(|score| × its daily volatility). `delay_seconds` later, if the price has moved in the shock's
direction by more than `k` × the expected move, open a position against the move, worth
`notional`; it closes after `hold_seconds` or at the stop. Headlines whose move stayed within
bounds are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from engine.scoring import Shock
from strategies.leg_trader import LegTrader, LegTraderConfig
from strategies.news_momentum import SUBJECT_ROLES


class FadeConfig(LegTraderConfig):
    """Settings of `Fade`."""

    threshold: float = Field(0.2, gt=0, le=1, description="|score| of a subject to watch")
    delay_seconds: float = Field(
        600.0, gt=0, description="look at the move this long after receipt"
    )
    k: float = Field(1.5, gt=0, description="fade moves beyond k × the expected move")
    min_vol: float = Field(0.005, gt=0, description="floor of the daily volatility")


@dataclass(frozen=True, slots=True)
class _Watch:
    news_id: str
    symbol: str
    direction: float  # sign of the shock
    price: float  # at receipt
    expected: float  # expected |log move|
    due_ns: int  # when to look


class Fade(LegTrader):
    """After `delay_seconds`, trade against a subject that moved beyond k × its expected move."""

    config_class = FadeConfig
    config: FadeConfig

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.watching: dict[str, _Watch] = {}

    def expected_move(self, symbol: str, score: float) -> float:
        """|score| × the symbol's daily volatility (floored at `min_vol`)."""
        vol = self.ctx.market.daily_vol(symbol)
        return abs(score) * (
            vol if vol == vol and vol > self.config.min_vol else self.config.min_vol
        )

    def on_shock(self, shock: Shock) -> None:
        market, now = self.ctx.market, self.ctx.clock.now_ns()
        for leg in shock.tradable(self.config.threshold):
            price = market.price(leg.symbol)
            if leg.role not in SUBJECT_ROLES or not price > 0:
                continue
            key = f"{shock.news_id}|{leg.symbol}"
            if key in self.watching or key in self.positions:
                continue
            due = now + int(self.config.delay_seconds * 1e9)
            self.watching[key] = _Watch(
                shock.news_id, leg.symbol, math.copysign(1.0, leg.score), price,
                self.expected_move(leg.symbol, leg.score), due,
            )  # fmt: skip
            self.ctx.set_timer(f"look:{key}", due)

    def on_timer(self, name: str, ts_ns: int) -> None:
        if not name.startswith("look:"):
            super().on_timer(name, ts_ns)
            return
        watch = self.watching.pop(name.removeprefix("look:"), None)
        price = self.ctx.market.price(watch.symbol) if watch else math.nan
        if watch is None or not price > 0:
            return
        moved = watch.direction * math.log(price / watch.price)
        if moved > self.config.k * watch.expected:
            qty = self.shares_for(watch.symbol, -watch.direction)
            self.open_position(
                watch.news_id, watch.symbol, qty,
                reason=f"moved {moved:+.2%} vs expected {watch.expected:.2%}",
            )  # fmt: skip

    def on_save(self) -> dict[str, Any]:
        """Open positions, plus the headlines still waiting for their look."""
        state = super().on_save()
        state["watching"] = [
            [w.news_id, w.symbol, w.direction, w.price, w.expected, w.due_ns]
            for w in self.watching.values()
        ]
        return state

    def on_load(self, state: dict[str, Any]) -> None:
        """Restore positions and watches; a look that fell due meanwhile happens at once."""
        super().on_load(state)
        now = self.ctx.clock.now_ns()
        for news_id, symbol, direction, price, expected, due in state.get("watching", []):
            watch = _Watch(news_id, symbol, direction, price, expected, int(due))
            self.watching[f"{news_id}|{symbol}"] = watch
            self.ctx.set_timer(f"look:{news_id}|{symbol}", max(now, watch.due_ns))
