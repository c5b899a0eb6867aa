"""What strategies ask for (`OrderIntent`) and what they get back (`Fill`)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import msgspec


@lru_cache(maxsize=4096)  # an order's id is asked for at submission, fill and booking
def client_order_id(strategy_id: str, news_id: str, symbol: str, leg: str) -> str:
    """Deterministic id of the order for (strategy, news id, symbol, leg).

    A restart or a retry computes the same id, so a broker that enforces unique client order ids
    can never accept the same order twice.
    """
    digest = hashlib.sha1(f"{strategy_id}|{news_id}|{symbol}|{leg}".encode()).hexdigest()
    return f"so-{digest[:28]}"


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A strategy's wish to trade `qty` shares (negative sells) of `symbol`, decided at `ts_init`."""

    strategy_id: str
    news_id: str
    symbol: str
    qty: float
    leg: str
    ts_init: int
    reason: str = ""

    @property
    def client_order_id(self) -> str:
        """See `client_order_id`."""
        return client_order_id(self.strategy_id, self.news_id, self.symbol, self.leg)


class Fill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A (partial) execution of an order."""

    client_order_id: str
    strategy_id: str
    symbol: str
    qty: float
    price: float
    ts_event: int
    commission: float = 0.0
