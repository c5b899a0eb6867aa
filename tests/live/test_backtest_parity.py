"""A plugin runs unchanged in a backtest and in the daemon: the same replay, the same orders.

The example third-party plugin (examples/peer_echo) runs over one generated day twice: through
`run_backtest` on a simulated clock, and through the daemon (replay feed, live node, simulated
broker, journal). Headlines reach it at their publication time in both (receipt latency 0), so
it sees the same prices when it decides: every order — client order id, symbol, quantity —
must be the same. Fill prices may differ (the backtest venue adds 50 ms of latency).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backtests.data import load_market, load_news
from backtests.runner import run_backtest
from backtests.synth import generate
from engine.clock import ReplayClock
from engine.journal import Journal
from engine.live.node import LiveNode
from engine.live.replay import ReplayFeed, ReplayNews
from engine.live.sim_broker import SimBroker
from engine.scoring import Scorer
from engine.settings import load_settings
from engine.strategy import make_strategy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "peer_echo"
SPEC = "peer_echo.strategy:PeerEcho"


def test_the_example_plugin_sends_the_same_orders_in_a_backtest_and_in_the_daemon(
    tmp_path: Path, scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))  # as if installed: it is a third-party package
    generate(tmp_path / "day", seed=11, days=2, symbols=12)
    news = load_news(tmp_path / "day" / "news.parquet")
    trades = load_market(tmp_path / "day" / "trades.parquet").frame

    backtest = run_backtest(
        news, trades, [make_strategy(SPEC, {"strategy_id": "echo"})], scorer,
        receipt_latency_s=0.0,
    )  # fmt: skip
    in_backtest = {(i.client_order_id, i.symbol, i.qty) for i in backtest.intents}

    settings = load_settings(
        None,
        daemon={"state_dir": tmp_path / "state", "view": "off"},
        http={"enabled": False},
        risk={"max_orders_per_minute": 100_000},
    )
    items = [
        ReplayNews(id=r["id"], headline=r["headline"], ts_event=r["ts_event"],
                   summary=r["summary"], symbols=tuple(r["symbols"] or ()), source=r["source"])
        for r in news.iter_rows(named=True)
    ]  # fmt: skip
    clock = ReplayClock()
    feed = ReplayFeed(
        items, trades["ts"].to_numpy(), trades["symbol"].to_list(), trades["price"].to_numpy(),
        trades["size"].cast(float).to_numpy(), clock, speed=2_000_000, batch_ms=1,
    )  # fmt: skip
    clock.advance_to(feed.first_ts())
    scorer.reset_novelty()

    async def daemon() -> LiveNode:
        node = LiveNode(
            settings, scorer, [(make_strategy(SPEC, {"strategy_id": "echo"}), 1e6)], [feed],
            SimBroker(settings.broker, clock), Journal(tmp_path / "journal.sqlite"), clock=clock,
        )  # fmt: skip
        await node.start()
        await node.run(asyncio.Event())  # returns when the replay has ended
        await node.close()
        return node

    node = asyncio.run(daemon())
    assert node.counters.news == news.height
    with Journal(tmp_path / "journal.sqlite") as journal:
        rows = journal.rows("SELECT client_order_id, symbol, qty FROM orders")
    in_daemon = {(r["client_order_id"], r["symbol"], r["qty"]) for r in rows}
    assert len(in_backtest) >= 10, "the day has enough spillover to trade"
    assert in_daemon == in_backtest
