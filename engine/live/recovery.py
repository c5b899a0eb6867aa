"""Start-up after a stop or a crash: what the journal says the daemon held and had open."""

from __future__ import annotations

import collections
import logging
from typing import Any

from engine.brokers.base import BrokerSnapshot
from engine.journal import Journal
from engine.strategy import Portfolio

log = logging.getLogger(__name__)


def open_orders_with_fills(journal: Journal) -> list[dict[str, Any]]:
    """Journaled open orders, each with what its journaled fills already booked."""
    done = {
        r["client_order_id"]: r
        for r in journal.rows(
            "SELECT client_order_id, SUM(qty) AS filled_qty, "
            "SUM(qty * price) / SUM(qty) AS filled_avg_price FROM fills "
            "GROUP BY client_order_id HAVING SUM(qty) != 0"
        )
    }
    rows = journal.open_orders()
    for row in rows:
        if row["client_order_id"] in done:
            booked = done[row["client_order_id"]]
            row["filled_qty"] = abs(booked["filled_qty"])
            row["filled_avg_price"] = booked["filled_avg_price"]
    return rows


def restore_book(journal: Journal, strategy_id: str, book: Portfolio, cash: float) -> None:
    """Cash and positions of one strategy from its journaled fills."""
    rows = journal.rows(
        "SELECT COALESCE(SUM(qty * price + commission), 0) AS spent, COUNT(*) AS n "
        "FROM fills WHERE strategy_id = ?",
        (strategy_id,),
    )
    if rows[0]["n"]:
        book.cash = cash - rows[0]["spent"]
        book.positions.update(journal.positions(strategy_id))
        log.info("%s: %d positions rebuilt from the journal", strategy_id, len(book.positions))


def reconcile(books: list[Portfolio], snapshot: BrokerSnapshot) -> dict[str, dict[str, float]]:
    """Symbols where the broker's positions differ from the journal's (logged, returned)."""
    ours: dict[str, float] = collections.defaultdict(float)
    for book in books:
        for sym, qty in book.positions.items():
            ours[sym] += qty
    out: dict[str, dict[str, float]] = {}
    for sym in sorted(set(ours) | set(snapshot.positions)):
        have, want = snapshot.positions.get(sym, 0.0), ours.get(sym, 0.0)
        if abs(have - want) > 1e-6:
            out[sym] = {"broker": have, "journal": want}
            log.warning("reconcile %s: broker holds %g, the journal says %g", sym, have, want)
    return out
