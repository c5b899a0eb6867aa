"""The daemon against a real Mosquitto: headlines and tick frames in, baskets out."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import orjson
import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.clock import LiveClock
from engine.feeds.dead_letters import DeadLetterFile, read_dead_letters
from engine.feeds.mqtt import MqttFeed
from engine.journal import Journal
from engine.live.node import LiveNode
from engine.live.sim_broker import SimBroker
from engine.scoring import Scorer
from engine.settings import load_settings
from engine.strategy import make_strategy
from tests.live.support import until
from tests.support.mosquitto import Mosquitto, mosquitto_broker, shared_broker

__all__ = ["mosquitto_broker", "shared_broker"]  # fixtures

META = "Meta is said to weigh renting out surplus AI data-center capacity to other companies"
PRICES = {"META": 600.0, "CRWV": 90.0, "NBIS": 100.0, "MU": 110.0, "NVDA": 180.0, "SPY": 650.0}


def frame(prices: dict[str, float]) -> bytes:
    now = time.time_ns()
    return orjson.dumps(
        {
            "symbol": list(prices), "price": list(prices.values()),
            "size": [100] * len(prices), "ts": [now] * len(prices),
        }
    )  # fmt: skip


@contextlib.asynccontextmanager
async def daemon(
    tmp_path: Path, scorer: Scorer, host: str, port: int, prefix: str, client_id: str
) -> AsyncIterator[tuple[LiveNode, SimBroker]]:
    settings = load_settings(
        None,
        daemon={"state_dir": tmp_path, "feeds": ("mqtt",)},
        http={"port": 0},
        mqtt={
            "host": host, "port": port, "client_id": client_id,
            "news_topic": f"{prefix}/news/#", "ticks_topic": f"{prefix}/ticks/#",
            "reconnect_max_s": 0.5,
        },
    )  # fmt: skip
    scorer.reset_novelty()
    clock = LiveClock()
    broker = SimBroker(settings.broker, clock)
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1e6)], [MqttFeed(settings.mqtt, clock)],
        broker, Journal(tmp_path / "journal.sqlite"), clock=clock,
        dead_letters=DeadLetterFile(tmp_path / "dead-letters.jsonl"),
    )  # fmt: skip
    stop = asyncio.Event()
    await node.start()
    task = asyncio.create_task(node.run(stop))
    try:
        await until(lambda: node.connected.get("mqtt", False), what="the MQTT feed to connect")
        yield node, broker
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await node.close()


@pytest.mark.asyncio
async def test_meta_headline_over_mqtt_reaches_the_simulated_broker_as_a_hedged_basket(
    tmp_path: Path, scorer: Scorer, shared_broker: tuple[str, int]
) -> None:
    host, port = shared_broker
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    async with daemon(tmp_path, scorer, host, port, prefix, f"d-{prefix}") as (node, broker):
        async with aiomqtt.Client(host, port, identifier=f"p-{prefix}") as pub:
            await pub.publish(f"{prefix}/ticks/all", frame(PRICES))
            news = {"id": 1, "headline": META, "created_at": time.time(), "symbols": ["META"]}
            await pub.publish(f"{prefix}/news/bloomberg", orjson.dumps(news), qos=1)
            await until(lambda: node.counters.orders_sent >= 4, what="the basket")
        async with aiohttp.ClientSession() as http, http.get(f"{node.http_url}/api/state") as r:
            state = await r.json()
        side = {o["symbol"]: o["side"] for o in state["open_orders"]}
        assert side["META"] == "buy"
        assert side["CRWV"] == side["NBIS"] == side["MU"] == "sell"
        assert {o["news_id"] for o in state["open_orders"]} == {"1"}
        assert set(broker.submissions.values()) == {1}
        async with aiohttp.ClientSession() as http, http.get(f"{node.http_url}/metrics") as r:
            metrics = await r.text()
        assert 'spillover_messages_in_total{feed="news"} 1.0' in metrics
        sent = node.counters.orders_sent  # one latency sample per order
        assert f"spillover_news_to_order_seconds_count {sent:.1f}" in metrics


@pytest.mark.asyncio
async def test_headlines_published_during_a_broker_outage_are_processed_exactly_once(
    tmp_path: Path, scorer: Scorer, mosquitto_broker: Mosquitto
) -> None:
    host, port = mosquitto_broker.host, mosquitto_broker.port
    prefix = "outage"
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="outage-publisher",
                            clean_session=False)  # fmt: skip
    publisher.reconnect_delay_set(0.05, 0.2)
    publisher.connect(host, port)
    publisher.loop_start()
    published: list[str] = []

    def publish(n: int) -> None:
        for _ in range(n):
            nid = f"h{len(published)}"
            body = {"id": nid, "headline": f"Nvidia raises its revenue forecast, update {nid}"}
            publisher.publish(f"{prefix}/news/x", orjson.dumps(body), qos=1)
            published.append(nid)

    try:
        async with daemon(tmp_path, scorer, host, port, prefix, "outage-daemon") as (node, _):
            publish(5)
            await until(lambda: node.counters.news >= 5, what="the first headlines")
            await asyncio.to_thread(mosquitto_broker.stop)  # the outage
            await until(lambda: not node.connected["mqtt"], what="the feed to notice")
            publish(10)  # QoS 1: the publisher's client keeps them until the broker is back
            await asyncio.to_thread(mosquitto_broker.start)
            publish(5)
            await until(lambda: node.connected["mqtt"], what="the reconnect", timeout=20)
            await until(lambda: node.journal.rows("SELECT COUNT(*) AS n FROM news")[0]["n"] == 20,
                        what="every headline", timeout=20)  # fmt: skip
            rows = node.journal.rows("SELECT id FROM news")
            assert sorted(r["id"] for r in rows) == sorted(published)
            assert node.counters.news - node.counters.duplicate_news == 20  # acted on once each
            assert len(node.engine.shocks) == 20
    finally:
        publisher.loop_stop()
        publisher.disconnect()


def _bad_payloads() -> st.SearchStrategy[tuple[str, bytes]]:
    not_json = st.binary(min_size=1, max_size=64).map(lambda b: b"\xff" + b)
    not_object = st.one_of(st.integers(), st.lists(st.integers(), max_size=3), st.text(max_size=8))
    news_without_headline = st.dictionaries(
        st.sampled_from(["id", "summary", "symbols", "created_at"]), st.text(max_size=8), max_size=3
    )
    bad_frame = st.fixed_dictionaries(
        {"symbol": st.just(["META", "MU"]), "price": st.just([1.0]), "size": st.just([1, 1]),
         "ts": st.just([1, 2])}
    )  # fmt: skip
    negative_price = st.fixed_dictionaries(
        {"symbol": st.just("META"), "price": st.floats(max_value=0.0), "size": st.just(1),
         "ts": st.just(1)}
    )  # fmt: skip
    return st.one_of(
        st.tuples(st.sampled_from(["news", "ticks"]), not_json),
        st.tuples(st.sampled_from(["news", "ticks"]), not_object.map(orjson.dumps)),
        st.tuples(st.just("news"), news_without_headline.map(orjson.dumps)),
        st.tuples(st.just("ticks"), st.one_of(bad_frame, negative_price).map(orjson.dumps)),
    )


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flood=st.lists(_bad_payloads(), min_size=1, max_size=40))
def test_a_flood_of_malformed_payloads_is_dead_lettered_and_the_next_headline_still_trades(
    tmp_path_factory: pytest.TempPathFactory,
    scorer: Scorer,
    shared_broker: tuple[str, int],
    flood: list[tuple[str, bytes]],
) -> None:
    host, port = shared_broker
    tmp = tmp_path_factory.mktemp("flood")
    prefix = f"flood-{uuid.uuid4().hex[:8]}"

    async def scenario() -> LiveNode:
        async with daemon(tmp, scorer, host, port, prefix, f"d-{prefix}") as (node, _):
            async with aiomqtt.Client(host, port, identifier=f"p-{prefix}") as pub:
                for kind, payload in flood:
                    await pub.publish(f"{prefix}/{kind}/x", payload, qos=1)
                await pub.publish(f"{prefix}/ticks/x", frame(PRICES), qos=1)
                news = {"id": "valid", "headline": META}
                await pub.publish(f"{prefix}/news/x", orjson.dumps(news), qos=1)
                await until(lambda: node.counters.orders_sent >= 4, what="the valid headline")
            return node

    node = asyncio.run(scenario())
    assert node.counters.bad_messages == len(flood)
    letters = read_dead_letters(tmp / "dead-letters.jsonl")
    assert [row["raw"] for row in letters] == [payload for _, payload in flood]
    assert all(row["reason"] for row in letters)
