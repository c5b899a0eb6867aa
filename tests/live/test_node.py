"""The daemon core: feeds → journal → scorer → strategies → risk → simulated broker → status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rich.console import Console

from engine.journal import Journal
from engine.live.node import LiveNode
from engine.live.sim_broker import SimBroker
from engine.scoring import Scorer
from engine.settings import Settings, load_settings
from engine.strategy import make_strategy
from spillover.live_view import render
from tests.live.support import QueueFeed, until

META = "Meta is said to weigh renting out surplus AI data-center capacity to other companies"
PRICES = {"META": 600.0, "CRWV": 90.0, "NBIS": 100.0, "MU": 110.0, "NVDA": 180.0, "SPY": 650.0}


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "daemon": {"state_dir": tmp_path, "feeds": ("mqtt",)},
        "http": {"port": 0, "kill_token": "let-me-in"},
    }
    for key, value in overrides.items():
        base.setdefault(key, {}).update(value)
    return load_settings(None, **base)


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, scorer: Scorer, **overrides: Any
) -> AsyncIterator[tuple[LiveNode, QueueFeed, SimBroker]]:
    settings = settings_for(tmp_path, **overrides)
    scorer.reset_novelty()  # the scorer is shared by the session; a daemon starts afresh
    feed = QueueFeed()
    broker = SimBroker(settings.broker, feed.clock)
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1_000_000.0)], [feed], broker,
        Journal(tmp_path / "journal.sqlite"), clock=feed.clock,
    )  # fmt: skip
    stop = asyncio.Event()
    await node.start()
    task = asyncio.create_task(node.run(stop))
    try:
        await until(lambda: node.connected.get("test", False), what="the feed to connect")
        yield node, feed, broker
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await node.close()


async def get_state(node: LiveNode) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{node.http_url}/api/state") as r:
        assert r.status == 200
        state: dict[str, Any] = await r.json()
        return state


@pytest.mark.asyncio
async def test_meta_headline_becomes_a_hedged_basket_at_the_simulated_broker(
    tmp_path: Path, scorer: Scorer
) -> None:
    async with running(tmp_path, scorer) as (node, feed, broker):
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4, what="the basket")
        assert node.counters.unknown_symbol_trades == 0  # SPY is tracked too (index hedges)
        sides = {o.symbol: o.qty for o in node.orders.values()}
        assert sides["META"] > 0
        for short in ("CRWV", "NBIS", "MU"):
            assert sides[short] < 0, f"{short} should be sold: {sides}"
        assert all(n == 1 for n in broker.submissions.values())
        state = await get_state(node)
        shown = {o["symbol"]: o for o in state["open_orders"]}
        assert shown["META"]["side"] == "buy" and shown["CRWV"]["side"] == "sell"
        assert {o["news_id"] for o in state["open_orders"]} == {"meta-1"}
        assert all(o["client_order_id"].startswith("so-") for o in state["open_orders"])
        feed.push_trades({k: v * 1.001 for k, v in PRICES.items()})  # the orders fill on these
        await until(lambda: not node.orders, what="fills")
        state = await get_state(node)
        book = state["strategies"]["shock_hedge"]["positions"]
        assert book["META"] > 0 and book["CRWV"] < 0
        assert state["recent_shocks"][0]["news_id"] == "meta-1"
        console = Console(record=True, width=160)
        console.print(render(node))  # the terminal view of `spillover run`
        screen = console.export_text()
        assert "Meta is said to weigh" in screen and "CRWV -" in screen and "META +" in screen
    with Journal(tmp_path / "journal.sqlite") as journal:
        assert journal.rows("SELECT COUNT(*) AS n FROM news")[0]["n"] == 1
        statuses = {r["status"] for r in journal.rows("SELECT status FROM orders")}
        assert statuses == {"filled"}


@pytest.mark.asyncio
async def test_restart_rebuilds_positions_and_never_acts_twice_on_a_headline(
    tmp_path: Path, scorer: Scorer
) -> None:
    async with running(tmp_path, scorer) as (node, feed, _):
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4)
        feed.push_trades(PRICES)
        await until(lambda: node.counters.fills == node.counters.orders_sent, what="fills")
        before = dict(node.engine.portfolio("shock_hedge").positions)
        cash = node.engine.portfolio("shock_hedge").cash
        baskets = node.engine.save_states()["shock_hedge"]
        assert baskets, "shock_hedge holds an open basket to carry over"
    async with running(tmp_path, scorer) as (node, feed, broker):
        assert node.engine.save_states()["shock_hedge"] == baskets  # on_load got it back
        assert node.engine.portfolio("shock_hedge").positions == pytest.approx(before)
        assert node.engine.portfolio("shock_hedge").cash == pytest.approx(cash)
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)  # redelivered after the restart
        await until(lambda: node.counters.duplicate_news == 1, what="the repeat")
        assert node.counters.orders_sent == 0 and not broker.submissions


@pytest.mark.asyncio
async def test_stale_headline_is_journaled_but_not_traded(tmp_path: Path, scorer: Scorer) -> None:
    async with running(tmp_path, scorer, risk={"stale_news_seconds": 60}) as (node, feed, _):
        feed.push_trades(PRICES)
        feed.push_news(id="old", headline=META, created_at="2020-01-02T15:00:00Z")
        await until(lambda: node.counters.stale_news == 1)
        assert node.counters.orders_sent == 0
        assert node.journal.seen_news("old")


@pytest.mark.asyncio
async def test_bad_message_is_counted_dead_lettered_and_the_loop_goes_on(
    tmp_path: Path, scorer: Scorer
) -> None:
    from engine.feeds.dead_letters import DeadLetterFile, read_dead_letters

    settings = settings_for(tmp_path)
    scorer.reset_novelty()
    feed = QueueFeed()
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1e6)], [feed],
        SimBroker(settings.broker, feed.clock), Journal(tmp_path / "j.sqlite"),
        clock=feed.clock, dead_letters=DeadLetterFile(tmp_path / "dead.jsonl"),
    )  # fmt: skip
    stop = asyncio.Event()
    await node.start()
    task = asyncio.create_task(node.run(stop))
    feed.push_bad(b"\xff\x00 not json", "not JSON")
    feed.push_trades(PRICES)
    feed.push_news(id="meta-1", headline=META)
    await until(lambda: node.counters.orders_sent >= 4)
    stop.set()
    await task
    await node.close()
    assert node.counters.bad_messages == 1
    (row,) = read_dead_letters(tmp_path / "dead.jsonl")
    assert row["raw"] == b"\xff\x00 not json" and row["reason"] == "not JSON"


@pytest.mark.asyncio
async def test_kill_switch_needs_the_token_cancels_open_orders_and_halts(
    tmp_path: Path, scorer: Scorer
) -> None:
    slow = {"latency_ms": 3_600_000}  # orders stay pending at the simulator
    async with running(tmp_path, scorer, broker=slow) as (node, feed, broker):
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: len(broker.venue.pending) >= 4)
        sent = node.counters.orders_sent
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{node.http_url}/api/kill") as r:
                assert r.status == 401
            headers = {"Authorization": "Bearer let-me-in"}
            async with http.post(f"{node.http_url}/api/kill", headers=headers) as r:
                assert r.status == 200
        await until(lambda: not broker.venue.pending and not node.orders, what="cancels")
        feed.push_news(id="nvda-1", headline="Nvidia raises its revenue forecast on AI demand")
        await until(lambda: node.counters.news == 2)
        assert node.counters.orders_sent == sent and node.counters.orders_blocked > 0
        state = await get_state(node)
        assert "kill" in state["halted"]
        async with aiohttp.ClientSession() as http, http.get(f"{node.http_url}/healthz") as r:
            assert (await r.json())["halted"]


@pytest.mark.asyncio
async def test_kill_switch_can_also_flatten_every_position(tmp_path: Path, scorer: Scorer) -> None:
    flatten = {"flatten_on_kill": True}
    async with running(tmp_path, scorer, daemon=flatten) as (node, feed, broker):
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4)
        feed.push_trades(PRICES)
        await until(lambda: node.counters.fills == node.counters.orders_sent, what="entry fills")
        assert node.engine.portfolio("shock_hedge").positions
        node.kill("operator")
        await until(lambda: any(i.leg == "flatten" for _, i in broker.venue.pending),
                    what="flatten orders")  # fmt: skip
        feed.push_trades(PRICES)
        await until(lambda: not node.engine.portfolio("shock_hedge").positions, what="flat book")


@pytest.mark.asyncio
async def test_daily_loss_beyond_the_limit_halts_trading(tmp_path: Path, scorer: Scorer) -> None:
    async with running(tmp_path, scorer, risk={"daily_loss_limit": 1.0}) as (node, feed, _):
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4)
        feed.push_trades(PRICES)
        await until(lambda: node.counters.fills == node.counters.orders_sent, what="entry fills")
        feed.push_trades({"META": 500.0, "CRWV": 120.0, "NBIS": 130.0, "MU": 140.0})  # a bad day
        await until(lambda: node.risk.halted, what="the halt")
        assert "daily loss" in node.risk.halted_reason
        sent = node.counters.orders_sent
        feed.push_news(id="nvda-1", headline="Nvidia raises its revenue forecast on AI demand")
        await until(lambda: node.counters.news == 2)
        assert node.counters.orders_sent == sent


class BrokenFeed:
    name = "broken"

    async def run(self, sink: object) -> None:
        from engine.errors import ConfigError

        raise ConfigError("alpaca keys refused: set APCA_API_KEY_ID")


@pytest.mark.asyncio
async def test_a_feed_failing_on_a_setting_stops_the_daemon_with_that_error(
    tmp_path: Path, scorer: Scorer
) -> None:
    from engine.errors import ConfigError

    settings = settings_for(tmp_path)
    feed = QueueFeed()
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1e6)], [feed, BrokenFeed()],
        SimBroker(settings.broker, feed.clock), Journal(tmp_path / "j.sqlite"), clock=feed.clock,
    )  # fmt: skip
    await node.start()
    with pytest.raises(ConfigError, match="APCA_API_KEY_ID"):
        await asyncio.wait_for(node.run(asyncio.Event()), 5)
    await node.close()
