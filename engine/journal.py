"""The journal: an SQLite (WAL) record of everything the daemon saw and did.

Every headline is written on receipt, before it is scored; then its shock, each strategy's
intents with their client order ids, the orders' states and the fills. After a crash the
daemon rebuilds from here (what it has acted on, open orders, positions) and never acts twice
on a headline or sends an order twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson

from engine.news import NewsItem
from engine.orders import Fill, OrderIntent
from engine.scoring import Shock

SCHEMA = """
CREATE TABLE IF NOT EXISTS news (
    id TEXT PRIMARY KEY, ts_event INTEGER NOT NULL, ts_init INTEGER NOT NULL,
    headline TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS shocks (
    news_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, strategy_id TEXT NOT NULL, news_id TEXT NOT NULL,
    symbol TEXT NOT NULL, qty REAL NOT NULL, leg TEXT NOT NULL, ts_init INTEGER NOT NULL,
    status TEXT NOT NULL, broker_id TEXT, updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, client_order_id TEXT NOT NULL,
    strategy_id TEXT NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
    ts_event INTEGER NOT NULL, commission REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
CREATE TABLE IF NOT EXISTS strategy_state (
    strategy_id TEXT PRIMARY KEY, updated_ns INTEGER NOT NULL, payload BLOB NOT NULL
);
"""
TABLES = ("news", "shocks", "orders", "fills")
OPEN_STATES = ("new", "submitted", "accepted", "partially_filled")


class Journal:
    """One SQLite file in WAL mode; each call is its own committed transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        # Writes that need not be durable before the next step (a shock, an order's new state,
        # a fill) wait here until `flush`, which the daemon calls at the end of each event:
        # one transaction instead of one each. Headlines and intents are never deferred.
        self._later: list[tuple[str, tuple[Any, ...]]] = []
        self.defer = False
        self._in_tx = False

    def defer_writes(self) -> None:
        """Daemon mode: defer what can wait to `flush`, and leave checkpoints to `checkpoint`
        (SQLite's automatic one would stall a write now and then for milliseconds)."""
        self.defer = True
        self._db.execute("PRAGMA wal_autocheckpoint=0")

    def begin(self) -> None:
        """Open a transaction for one event: its writes commit together at `flush`, or earlier
        at `commit_before_acting` (a headline is inserted on receipt, before it is scored, and
        committed, with the first order, before that order reaches a broker: one commit
        instead of two on the path from headline to order)."""
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def commit_before_acting(self) -> None:
        """Make everything written so far durable (call it before sending an order)."""
        if self._in_tx:
            self._in_tx = False
            self._db.execute("COMMIT")

    def flush(self) -> None:
        """Commit the event's writes and the deferred ones (shocks, order states, fills)."""
        if not self._later:
            self.commit_before_acting()
            return
        later, self._later = self._later, []
        self.begin()
        try:
            for sql, params in later:
                self._db.execute(sql, params)
        finally:
            self.commit_before_acting()

    def checkpoint(self) -> None:
        """Copy the WAL into the database from a second connection (call it off the loop)."""
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Flush, checkpoint and close the file."""
        self.flush()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode ("wal")."""
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def record_news(self, item: NewsItem) -> bool:
        """Write a headline on receipt; False if this news id was journaled before (a repeat)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO news (id, ts_event, ts_init, headline, payload) VALUES (?, ?, ?, ?, ?)",
            (item.id, item.ts_event, item.ts_init, item.headline, msgspec.json.encode(item)),
        )
        return cur.rowcount == 1

    def record_shock(self, shock: Shock) -> None:
        """Write a headline's shock (replacing an earlier one for the same news id)."""
        self._write(
            "INSERT OR REPLACE INTO shocks (news_id, ts, payload) VALUES (?, ?, ?)",
            (shock.news_id, shock.ts_init, orjson.dumps(shock.to_dict())),
        )

    def record_intent(self, intent: OrderIntent, now_ns: int) -> bool:
        """Write an order before it is sent; False if its client order id exists (never send twice)."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO orders (client_order_id, strategy_id, news_id, symbol, qty, leg, "
            "ts_init, status, updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?)",
            (intent.client_order_id, intent.strategy_id, intent.news_id, intent.symbol, intent.qty,
             intent.leg, intent.ts_init, now_ns),
        )  # fmt: skip
        return cur.rowcount == 1

    def update_order(
        self, client_order_id: str, status: str, now_ns: int, broker_id: str | None = None
    ) -> None:
        """Record an order's new state (and the broker's id for it, once known)."""
        self._write(
            "UPDATE orders SET status = ?, updated_ns = ?, broker_id = COALESCE(?, broker_id) "
            "WHERE client_order_id = ?",
            (status, now_ns, broker_id, client_order_id),
        )

    def record_fill(self, fill: Fill) -> None:
        """Write a fill."""
        self._write(
            "INSERT INTO fills (client_order_id, strategy_id, symbol, qty, price, ts_event, commission) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (fill.client_order_id, fill.strategy_id, fill.symbol, fill.qty, fill.price, fill.ts_event,
             fill.commission),
        )  # fmt: skip

    def save_strategy_state(self, strategy_id: str, state: dict[str, Any], now_ns: int) -> None:
        """Keep a strategy's `on_save()` result (replacing the one saved before)."""
        self._db.execute(
            "INSERT OR REPLACE INTO strategy_state (strategy_id, updated_ns, payload) VALUES (?, ?, ?)",
            (strategy_id, now_ns, orjson.dumps(state)),
        )

    def load_strategy_state(self, strategy_id: str) -> dict[str, Any] | None:
        """The state last saved for a strategy, or None if none was."""
        row = self._db.execute(
            "SELECT payload FROM strategy_state WHERE strategy_id = ?", (strategy_id,)
        ).fetchone()
        if row is None:
            return None
        state: dict[str, Any] = orjson.loads(row[0])
        return state

    @contextlib.contextmanager
    def rehearsal(self) -> Iterator[bool]:
        """Writes inside this block are rolled back when it ends: nothing reaches the file.
        The daemon rehearses a headline in one while it waits (`engine.live.warm`), so SQLite's
        code and the tables' pages are still in the CPU's caches when a real headline comes.
        Yields False, and must write nothing, when an event's transaction is open."""
        if self._in_tx or self._db.in_transaction:
            yield False
            return
        self._db.execute("SAVEPOINT rehearsal")
        try:
            yield True
        finally:
            self._db.execute("ROLLBACK TO rehearsal")
            self._db.execute("RELEASE rehearsal")

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if self.defer:
            self._later.append((sql, params))
        else:
            self._db.execute(sql, params)

    def seen_news(self, news_id: str) -> bool:
        """True when this news id was journaled before."""
        return (
            self._db.execute("SELECT 1 FROM news WHERE id = ?", (news_id,)).fetchone() is not None
        )

    def open_orders(self) -> list[dict[str, Any]]:
        """Orders not yet filled, cancelled or rejected (to follow up after a restart)."""
        marks = ",".join("?" * len(OPEN_STATES))
        return self.rows(
            f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY ts_init", OPEN_STATES
        )

    def positions(self, strategy_id: str) -> dict[str, float]:
        """Net shares per symbol from the journaled fills of a strategy."""
        self.flush()
        cur = self._db.execute(
            "SELECT symbol, SUM(qty) FROM fills WHERE strategy_id = ? GROUP BY symbol",
            (strategy_id,),
        )
        return {sym: qty for sym, qty in cur.fetchall() if abs(qty) > 1e-9}

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts."""
        self.flush()
        cur = self._db.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def iter_table(self, table: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows of one table, newest first (payloads decoded)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; use one of {', '.join(TABLES)}")
        order = {"news": "ts_init", "shocks": "ts", "orders": "ts_init", "fills": "seq"}[table]
        sql = f"SELECT * FROM {table} ORDER BY {order} DESC" + (
            f" LIMIT {int(limit)}" if limit else ""
        )
        for row in self.rows(sql):
            if "payload" in row:
                row["payload"] = orjson.loads(row["payload"])
            yield row
