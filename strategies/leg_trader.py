"""A base for strategies that hold single-symbol positions, each closed by time or a stop.

`LegTrader` keeps the bookkeeping `news_momentum` and `fade` share: open a position for a
headline, book its fills, close it after `hold_seconds` or when it loses `stop_loss` of its
notional, undo entries that fill after the close, and carry open positions across a restart
(`on_save` / `on_load`). It uses the `StrategyContext` only, so it runs unchanged live.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from engine.orders import Fill
from engine.strategy import Strategy, StrategyConfig


class LegTraderConfig(StrategyConfig):
    """Sizing and exits shared by single-leg strategies."""

    notional: float = Field(50_000.0, gt=0, description="dollars per position")
    hold_seconds: float = Field(1800.0, gt=0, description="close a position after this long")
    stop_loss: float = Field(
        0.02, gt=0, description="close when a position loses this fraction of its notional"
    )
    check_seconds: float = Field(60.0, gt=0, description="how often stops are checked")


@dataclass(slots=True)
class Position:
    """One headline's position in one symbol."""

    news_id: str
    symbol: str
    opened_ns: int
    qty: float = 0.0  # filled
    cost: float = 0.0  # filled qty * price
    closing: bool = False

    @property
    def key(self) -> str:
        """`news_id|symbol`: one position per headline and symbol."""
        return f"{self.news_id}|{self.symbol}"


class LegTrader(Strategy):
    """Subclass and call `open_position`; exits, fills and restarts are handled here.

    Subclasses that override `on_fill`, `on_timer` or `on_watch` call `super()` for what they do
    not handle (this class uses the timer names `exit:<key>` and a watch per position, keyed by
    `Position.key`, whose band is the stop: a loss of `stop_loss` of the position's cost).
    """

    config_class = LegTraderConfig
    rehearsal_safe = True
    config: LegTraderConfig

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.positions: dict[str, Position] = {}
        self._orders: dict[str, tuple[str, str]] = {}  # client order id -> (position key, leg)

    def shares_for(self, symbol: str, direction: float) -> float:
        """Whole shares worth `notional` at the last price, signed by `direction` (0 if no price)."""
        price = self.ctx.market.price(symbol)
        if not price > 0 or direction == 0:
            return 0.0
        return math.copysign(float(math.floor(self.config.notional / price)), direction)

    def open_position(self, news_id: str, symbol: str, qty: float, reason: str = "") -> bool:
        """Send the entry order of a new position; False if it exists already or qty is 0."""
        now = self.ctx.clock.now_ns()
        position = Position(news_id, symbol, now)
        if qty == 0 or position.key in self.positions:
            return False
        self.positions[position.key] = position
        intent = self.ctx.submit(news_id, symbol, qty, "entry", reason=reason)
        self._orders[intent.client_order_id] = (position.key, "entry")
        self.ctx.set_timer(f"exit:{position.key}", now + int(self.config.hold_seconds * 1e9))
        self._watch(position)  # after the exit timer: its checks were always set after it
        self.ctx.attach(intent.client_order_id, position.key)
        return True

    def _watch(self, position: Position) -> None:
        """Have the engine check the position's stop every `check_seconds`: a loss of
        `stop_loss` of its cost (`on_watch` hears of it)."""
        held = {position.symbol: (position.qty, position.cost)} if position.qty else None
        self.ctx.watch(
            position.key, low=-self.config.stop_loss, high=math.inf,
            every_s=self.config.check_seconds, held=held, per_cost=True,
        )  # fmt: skip

    def on_fill(self, fill: Fill) -> None:
        key, leg = self._orders.get(fill.client_order_id, ("", ""))
        position = self.positions.get(key)
        if position is None:
            return
        position.qty += fill.qty
        position.cost += fill.qty * fill.price
        if leg == "entry" and position.closing:  # filled after the close: undo it
            self._send(position, -fill.qty, "exit-late")
        elif position.closing and abs(position.qty) < 1e-9:
            del self.positions[key]

    def on_timer(self, name: str, ts_ns: int) -> None:
        if name.startswith("exit:"):
            self.close(name.removeprefix("exit:"), "time")

    def on_watch(self, key: str, pnl: float, ts_ns: int) -> None:
        """A position lost `stop_loss` of its cost at a check."""
        self.close(key, "stop")

    def close(self, key: str, why: str) -> None:
        """Close a position now (its filled shares; entries filling later are undone)."""
        position = self.positions.get(key)
        if position is None or position.closing:
            return
        position.closing = True
        self.ctx.unwatch(key)
        if position.qty:
            self._send(position, -position.qty, f"exit-{why}")
        else:
            self.positions.pop(key)  # nothing filled; a late entry fill finds no position

    def _send(self, position: Position, qty: float, leg: str) -> None:
        intent = self.ctx.submit(position.news_id, position.symbol, qty, leg, reason=leg)
        self._orders[intent.client_order_id] = (position.key, leg)

    def on_save(self) -> dict[str, Any]:
        """Open positions and the order ids that belong to them."""
        return {
            "version": 1,
            "positions": [
                {
                    "news_id": p.news_id,
                    "symbol": p.symbol,
                    "opened_ns": p.opened_ns,
                    "qty": p.qty,
                    "cost": p.cost,
                    "closing": p.closing,
                }
                for p in self.positions.values()
            ],
            "orders": {
                cid: [key, leg] for cid, (key, leg) in self._orders.items() if key in self.positions
            },
        }

    def on_load(self, state: dict[str, Any]) -> None:
        """Restore positions; open ones get their exit timer back (at once if already due)."""
        now = self.ctx.clock.now_ns()
        for raw in state.get("positions", []):
            position = Position(
                raw["news_id"], raw["symbol"], int(raw["opened_ns"]), float(raw["qty"]),
                float(raw["cost"]), bool(raw["closing"]),
            )  # fmt: skip
            self.positions[position.key] = position
            if not position.closing:
                due = position.opened_ns + int(self.config.hold_seconds * 1e9)
                self.ctx.set_timer(f"exit:{position.key}", max(now, due))
                self._watch(position)
        for cid, (key, leg) in state.get("orders", {}).items():
            self._orders[cid] = (key, leg)
            owner = self.positions.get(key)
            if owner is not None and not owner.closing:
                self.ctx.attach(cid, key)
