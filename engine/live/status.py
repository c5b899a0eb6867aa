"""What the daemon shows about itself: open orders as the status face lists them, counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class OrderView:
    """An order as the status face shows it."""

    client_order_id: str
    strategy_id: str
    news_id: str
    symbol: str
    qty: float
    status: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of `/api/state`'s `open_orders`."""
        return {
            "client_order_id": self.client_order_id, "strategy_id": self.strategy_id,
            "news_id": self.news_id, "symbol": self.symbol,
            "side": "buy" if self.qty > 0 else "sell", "qty": abs(self.qty),
            "status": self.status, "reason": self.reason,
        }  # fmt: skip


@dataclass(slots=True)
class Counters:
    """What the node has seen and done since it started."""

    news: int = 0
    duplicate_news: int = 0
    stale_news: int = 0
    trades: int = 0
    unknown_symbol_trades: int = 0
    bad_messages: int = 0
    shocks_traded: int = 0
    orders_sent: int = 0
    orders_blocked: int = 0
    orders_not_resent: int = 0
    fills: int = 0
    by_feed: dict[str, int] = field(default_factory=dict)


def vars_of(counters: Counters) -> dict[str, Any]:
    """A dataclass with slots as a dict."""
    return {name: getattr(counters, name) for name in counters.__slots__}
