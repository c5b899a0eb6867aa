"""PeerEcho: trade a headline's spillover to related companies, never the company it names.

The named company reprices within seconds; its competitors, suppliers and customers often
follow more slowly. PeerEcho takes the `max_legs` largest legs reached through a relation
(competitor, supplier, customer, partner, peer) or a theme whose |score| clears `threshold`,
each worth `notional` in that leg's direction, and closes each after `hold_seconds`.

Deterministic by construction (legs ordered by |score| then symbol, no randomness, no wall
clock: times come from `ctx.clock`), so a backtest and the daemon send the same orders for the
same headlines and prices. Everything comes from `self.ctx`; nothing from globals.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from engine.orders import Fill
from engine.scoring import Shock
from engine.strategy import Strategy, StrategyConfig

RELATIONS = ("competitor", "supplier", "customer", "partner", "peer", "theme")


class PeerEchoConfig(StrategyConfig):
    """Settings of `PeerEcho`."""

    threshold: float = Field(0.2, gt=0, le=1, description="|score| of a related leg needed")
    max_legs: int = Field(3, ge=1, description="related legs traded per headline")
    notional: float = Field(20_000.0, gt=0, description="dollars per leg")
    hold_seconds: float = Field(1200.0, gt=0, description="close each leg after this long")


class PeerEcho(Strategy):
    """Trade the related companies a shock spills over to; close each leg after `hold_seconds`."""

    config_class = PeerEchoConfig
    config: PeerEchoConfig

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.held: dict[str, float] = {}  # "news_id|symbol" -> shares filled
        self.entries: dict[str, str] = {}  # client order id of an entry -> "news_id|symbol"
        self.due: dict[str, int] = {}  # "news_id|symbol" -> when to close (ns)

    def legs(self, shock: Shock) -> list[tuple[str, float]]:
        """(symbol, score) of the related legs to trade, largest first, ties by symbol."""
        legs = [
            (leg.symbol, leg.score)
            for leg in shock.tradable(self.config.threshold)
            if leg.role in RELATIONS and self.ctx.market.price(leg.symbol) > 0
        ]
        legs.sort(key=lambda x: (-abs(x[1]), x[0]))
        return legs[: self.config.max_legs]

    def on_shock(self, shock: Shock) -> None:
        now = self.ctx.clock.now_ns()
        for symbol, score in self.legs(shock):
            key = f"{shock.news_id}|{symbol}"
            qty = math.copysign(
                math.floor(self.config.notional / self.ctx.market.price(symbol)), score
            )
            if key in self.held or qty == 0:
                continue
            intent = self.ctx.submit(shock.news_id, symbol, qty, "echo", reason=f"{score:+.2f}")
            self.entries[intent.client_order_id] = key
            self.held[key] = 0.0
            self.due[key] = now + int(self.config.hold_seconds * 1e9)
            self.ctx.set_timer(f"exit:{key}", self.due[key])

    def on_fill(self, fill: Fill) -> None:
        key = self.entries.get(fill.client_order_id)
        if key is not None and key in self.held:
            self.held[key] += fill.qty

    def on_timer(self, name: str, ts_ns: int) -> None:
        if not name.startswith("exit:"):
            return
        key = name.removeprefix("exit:")
        qty = self.held.pop(key, 0.0)
        self.due.pop(key, None)
        if qty:
            news_id, symbol = key.split("|", 1)
            self.ctx.submit(news_id, symbol, -qty, "echo-exit", reason="holding time")

    def on_save(self) -> dict[str, Any]:
        """Open legs, their entry order ids and exit times: enough to go on after a restart."""
        return {
            "held": self.held,
            "due": self.due,
            "entries": {c: k for c, k in self.entries.items() if k in self.held},
        }

    def on_load(self, state: dict[str, Any]) -> None:
        """Restore open legs and re-arm their exits (at once if already due)."""
        self.held.update(state.get("held", {}))
        self.entries.update(state.get("entries", {}))
        now = self.ctx.clock.now_ns()
        for key, due in state.get("due", {}).items():
            self.due[key] = int(due)
            self.ctx.set_timer(f"exit:{key}", max(now, int(due)))
