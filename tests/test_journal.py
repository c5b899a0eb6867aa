"""The SQLite journal: WAL, nothing twice, state rebuilt after a restart."""

from __future__ import annotations

from pathlib import Path

from engine.journal import Journal
from engine.news import NewsItem
from engine.orders import Fill, OrderIntent
from engine.scoring import Scorer


def intent(symbol: str, qty: float, leg: str = "entry") -> OrderIntent:
    return OrderIntent(
        strategy_id="hedge", news_id="n1", symbol=symbol, qty=qty, leg=leg, ts_init=5
    )


def test_journal_is_wal_and_never_records_a_headline_or_order_twice(
    tmp_path: Path, mini_scorer: Scorer
) -> None:
    item = NewsItem(id="n1", headline="Cisco to buy Splunk", ts_event=1, ts_init=2)
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.journal_mode == "wal"
        assert journal.record_news(item) and not journal.record_news(item)
        journal.record_shock(mini_scorer.score(item, novelty=False))
        assert journal.record_intent(intent("SPLK", 10), now_ns=6)
        assert not journal.record_intent(intent("SPLK", 10), now_ns=7)  # same client order id


def test_a_restart_rebuilds_seen_news_open_orders_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "state" / "j.sqlite"
    journal = Journal(path)
    journal.record_news(NewsItem(id="n1", headline="h", ts_event=1, ts_init=2))
    a, b = intent("SPLK", 10), intent("CSCO", -4)
    journal.record_intent(a, 6)
    journal.record_intent(b, 6)
    journal.update_order(a.client_order_id, "filled", 9, broker_id="broker-1")
    journal.update_order(b.client_order_id, "accepted", 9, broker_id="broker-2")
    journal.record_fill(
        Fill(
            client_order_id=a.client_order_id,
            strategy_id="hedge",
            symbol="SPLK",
            qty=10,
            price=100.0,
            ts_event=9,
        )
    )
    journal.close()

    again = Journal(path)  # a new process after a crash
    assert again.seen_news("n1") and not again.seen_news("n2")
    assert [o["client_order_id"] for o in again.open_orders()] == [b.client_order_id]
    assert again.positions("hedge") == {"SPLK": 10.0}
    rows = list(again.iter_table("orders"))
    assert {r["broker_id"] for r in rows} == {"broker-1", "broker-2"}
    again.close()


def test_spillover_journal_shows_and_exports(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.record_news(
            NewsItem(id="n1", headline="Cisco to buy Splunk", ts_event=1, ts_init=2)
        )
        journal.record_intent(intent("SPLK", 10), 6)
    run = [sys.executable, "-m", "spillover", "journal", "--path", str(path)]
    shown = subprocess.run(
        [*run, "--table", "orders"], capture_output=True, text=True, timeout=120, check=False
    )
    assert shown.returncode == 0 and "SPLK" in shown.stdout
    exported = subprocess.run(
        [*run, "--table", "news", "--export", str(tmp_path / "news.jsonl")], capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert exported.returncode == 0
    [row] = [json.loads(x) for x in (tmp_path / "news.jsonl").read_text().splitlines()]
    assert row["payload"]["headline"] == "Cisco to buy Splunk"
    missing = subprocess.run(
        [*run[:-2], "--path", str(tmp_path / "none.sqlite")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2 and "no journal here" in missing.stderr


def test_spillover_journal_keeps_numbers_whole_in_an_80_column_terminal(tmp_path: Path) -> None:
    """Order ids give way first (cut with an ellipsis); quantities, prices and commissions
    are never cut."""
    import os
    import subprocess
    import sys

    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        order = intent("GOOGL", -12_345)
        journal.record_intent(order, 6)
        journal.record_fill(
            Fill(client_order_id=order.client_order_id, strategy_id="hedge", symbol="GOOGL",
                 qty=-12_345.0, price=1_234.5678, ts_event=7, commission=61.725)
        )  # fmt: skip
    env = {**os.environ, "COLUMNS": "80"}
    shown = subprocess.run(
        [sys.executable, "-m", "spillover", "journal", "--path", str(path), "--table", "fills"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "GOOGL" in line)
    for whole in ("-12,345", "1,234.57", "61.725"):
        assert whole in row, row
    assert "…" in row and order.client_order_id not in row  # the id gave way
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
