"""The MQTT feed against real Mosquitto: decoding, dead letters, outages, sessions, sharing."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import orjson
import pytest

from engine.clock import LiveClock
from engine.errors import ConfigError
from engine.feeds.base import TradeBatch
from engine.feeds.mqtt import MqttFeed
from engine.news import NewsItem
from engine.settings import MqttSettings
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

T0 = 1_714_681_864_000_000_000


class Sink:
    """A recording `FeedSink` that wakes waiters on every call."""

    def __init__(self) -> None:
        self.items: list[NewsItem] = []
        self.news_while_disconnected: list[str] = []
        self.batches: list[TradeBatch] = []
        self.bad: list[tuple[str, str, bytes, str]] = []
        self.connections: list[bool] = []
        self._changed = asyncio.Event()

    def news_ids(self) -> list[str]:
        return [item.id for item in self.items]

    def news(self, item: NewsItem) -> None:
        self.items.append(item)
        if not (self.connections and self.connections[-1]):
            self.news_while_disconnected.append(item.id)
        self._changed.set()

    def trades(self, batch: TradeBatch) -> None:
        self.batches.append(batch)
        self._changed.set()

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        self.bad.append((feed, source, payload, reason))
        self._changed.set()

    def connection(self, feed: str, connected: bool) -> None:
        self.connections.append(connected)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait until `condition()` holds, re-checking on every sink call; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for the sink")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


def settings_for(host: str, port: int, prefix: str, **overrides: Any) -> MqttSettings:
    values: dict[str, Any] = {
        "host": host,
        "port": port,
        "client_id": f"test-{uuid.uuid4().hex[:12]}",
        "news_topic": f"{prefix}/news/#",
        "ticks_topic": f"{prefix}/ticks/#",
        "session_expiry_s": 60,  # leave nothing behind on a shared broker for long
        "reconnect_max_s": 0.5,
    }
    values.update(overrides)
    return MqttSettings(**values)


@asynccontextmanager
async def running(feed: MqttFeed, sink: Sink) -> AsyncIterator[asyncio.Task[None]]:
    """Run the feed in a task until the block ends, then cancel it and wait for it."""
    task = asyncio.create_task(feed.run(sink), name=f"feed-{feed.name}")
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def publisher(host: str, port: int) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(host, port, identifier=f"pub-{uuid.uuid4().hex[:12]}") as client:
        yield client


def headline(news_id: str, text: str = "Apple beats estimates") -> bytes:
    return orjson.dumps({"id": news_id, "headline": text, "created_at": "2024-05-02T20:31:04Z"})


def frame(n: int) -> bytes:
    return orjson.dumps(
        {
            "symbol": [f"S{i % 7}" for i in range(n)],
            "price": [100.0 + i for i in range(n)],
            "size": [float(i) for i in range(n)],
            "ts": [T0 + i for i in range(n)],
        }
    )


@pytest.fixture
def prefix() -> str:
    return f"spillover-test/{uuid.uuid4().hex}"


def test_a_shared_group_needs_mqtt_v5() -> None:
    settings = MqttSettings(protocol="3.1.1", shared_group="engines")
    with pytest.raises(ConfigError, match=r"shared_group .* needs mqtt\.protocol"):
        MqttFeed(settings, LiveClock())


def test_a_bounded_queue_sheds_ticks_but_never_news() -> None:
    feed = MqttFeed(settings_for("127.0.0.1", 1883, "q", max_queued_messages=2), LiveClock())

    async def fill() -> asyncio.Queue[aiomqtt.Message]:
        queue = feed._queue_type()(maxsize=2)
        for i, topic in enumerate(["q/ticks/a", "q/ticks/a", "q/ticks/a", "q/news/x", "q/ticks/b"]):
            message = aiomqtt.Message(topic, b"{}", 0, False, i, None)
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)
        return queue

    queue = asyncio.run(fill())
    assert queue.qsize() == 3  # two ticks, then the news past the bound
    assert feed.dropped == 2


@pytest.mark.asyncio
async def test_news_and_tick_frames_arrive_decoded_and_bad_payloads_go_to_dead_letters(
    shared_broker: tuple[str, int], prefix: str
) -> None:
    host, port = shared_broker
    settings = settings_for(host, port, prefix, dead_letter_topic=f"{prefix}/dead")
    feed, sink = MqttFeed(settings, LiveClock(), name="mq"), Sink()
    dead: list[dict[str, Any]] = []
    async with publisher(host, port) as pub, running(feed, sink):
        await pub.subscribe(f"{prefix}/dead", qos=1)

        async def collect() -> None:
            async for message in pub.messages:
                assert isinstance(message.payload, bytes)
                dead.append(orjson.loads(message.payload))

        collector = asyncio.create_task(collect())
        try:
            await sink.wait_until(lambda: sink.connections == [True])
            before = time.time_ns()
            await pub.publish(f"{prefix}/news/alpaca", headline("n1"), qos=1)
            await pub.publish(f"{prefix}/ticks/us", frame(1000), qos=0)
            await pub.publish(f"{prefix}/news/alpaca", b'{"summary": "no headline"}', qos=1)
            await pub.publish(f"{prefix}/ticks/us", b"\xff not json", qos=0)
            await pub.publish(
                f"{prefix}/news/alpaca", headline("n2", "Nvidia to buy Run:ai"), qos=1
            )
            await sink.wait_until(lambda: len(sink.items) == 2 and len(sink.bad) == 2)
            await sink.wait_until(lambda: len(sink.batches) == 1)
            await asyncio.wait_for(_until(lambda: len(dead) == 2), 10)
        finally:
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)

    assert sink.news_ids() == ["n1", "n2"]
    assert sink.items[1].headline == "Nvidia to buy Run:ai"
    assert all(item.ts_init >= before for item in sink.items)
    (batch,) = sink.batches
    assert len(batch) == 1000 and batch.ts[0] == T0 and batch.price[-1] == 1099.0
    assert batch.ts_init >= before
    assert [(b[0], b[1], b[3]) for b in sink.bad] == [
        ("mq", f"{prefix}/news/alpaca", "news: missing 'headline' (a string)"),
        ("mq", f"{prefix}/ticks/us", sink.bad[1][3]),
    ]
    assert sink.bad[1][3].startswith("not JSON:")
    assert {d["reason"] for d in dead} == {b[3] for b in sink.bad}
    assert {d.get("payload") or d.get("payload_b64") for d in dead} == {
        '{"summary": "no headline"}',
        "/yBub3QganNvbg==",
    }
    assert (feed.received, feed.news, feed.trades, feed.bad) == (5, 2, 1000, 2)
    assert sink.connections == [True, False]


async def _until(condition: Callable[[], bool]) -> None:
    """Poll `condition` (for state outside the sink); callers bound it with wait_for."""
    while not condition():
        await asyncio.sleep(0.01)


async def publish_with_retries(
    host: str, port: int, topic: str, ids: list[str], retried: set[str], every: float
) -> None:
    """Publish each headline at QoS 1 until the broker acknowledged it, reconnecting as needed.

    A headline whose first try failed is recorded in `retried`: the broker may have it twice.
    """
    pending = list(ids)
    while pending:
        try:
            async with aiomqtt.Client(
                host, port, identifier=f"pub-{uuid.uuid4().hex[:12]}", timeout=2
            ) as pub:
                while pending:
                    try:
                        await pub.publish(topic, headline(pending[0]), qos=1)
                    except aiomqtt.MqttError:
                        retried.add(pending[0])
                        raise
                    pending.pop(0)
                    await asyncio.sleep(every)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_a_broker_outage_loses_no_headline_and_duplicates_are_only_those_in_flight(
    mosquitto_broker: Mosquitto, prefix: str
) -> None:
    broker = mosquitto_broker
    settings = settings_for(broker.host, broker.port, prefix, session_expiry_s=3600)
    feed, sink = MqttFeed(settings, LiveClock()), Sink()
    ids = [f"h{i:03d}" for i in range(200)]
    retried: set[str] = set()
    async with running(feed, sink):
        await sink.wait_until(lambda: sink.connections == [True])
        pub = asyncio.create_task(
            publish_with_retries(
                broker.host, broker.port, f"{prefix}/news/x", ids, retried, every=0.004
            )
        )
        await sink.wait_until(lambda: len(sink.items) >= 60)
        delivered_before_cut = sink.news_ids()
        await asyncio.to_thread(broker.stop)  # mid-stream: the publisher is still going
        await sink.wait_until(lambda: sink.connections == [True, False])
        stopped_at = len(sink.items)
        await asyncio.to_thread(broker.start)
        await sink.wait_until(lambda: set(sink.news_ids()) >= set(ids), timeout=30)
        await asyncio.wait_for(pub, 10)

    counts = Counter(sink.news_ids())
    duplicates = {news_id: n for news_id, n in counts.items() if n > 1}
    # In flight at the cut: up to Mosquitto's 20 unacknowledged messages (the last ones we had
    # before it), those we delivered after the cut without an ack, and those the publisher sent
    # again because it never saw the broker's ack.
    in_flight = set(delivered_before_cut[-20:]) | set(sink.news_while_disconnected) | retried
    in_flight |= set(sink.news_ids()[len(delivered_before_cut) : stopped_at])
    print(
        f"outage: {len(ids)} headlines, {sum(counts.values())} deliveries, "
        f"duplicates {sorted(duplicates)}, delivered after the cut unacked "
        f"{sink.news_while_disconnected}, publisher retries {sorted(retried)}"
    )
    assert set(counts) == set(ids)  # none lost, nothing foreign
    assert set(duplicates) <= in_flight
    assert all(n == 2 for n in duplicates.values())
    for news_id in duplicates:  # a duplicate is the same headline again, not a new one
        copies = [item for item in sink.items if item.id == news_id]
        assert len({(c.headline, c.ts_event) for c in copies}) == 1
    assert sink.connections == [True, False, True, False]
    assert feed.reconnects == 1
    assert feed.leftovers == len(sink.news_while_disconnected)


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_headlines_published_while_the_feed_is_stopped_arrive_when_it_starts_again(
    mosquitto_broker: Mosquitto, prefix: str, protocol: str
) -> None:
    broker = mosquitto_broker
    settings = settings_for(broker.host, broker.port, prefix, protocol=protocol)
    first = Sink()
    async with running(MqttFeed(settings, LiveClock()), first):
        await first.wait_until(lambda: first.connections == [True])
    assert first.connections == [True, False]

    async with publisher(broker.host, broker.port) as pub:
        for i in range(5):
            await pub.publish(f"{prefix}/news/x", headline(f"away{i}"), qos=1)

    second = Sink()
    async with running(MqttFeed(settings, LiveClock()), second):
        await second.wait_until(lambda: len(second.items) == 5)
    assert second.news_ids() == [f"away{i}" for i in range(5)]
    assert first.items == []


@pytest.mark.asyncio
async def test_two_feeds_in_a_shared_group_split_the_headlines(
    shared_broker: tuple[str, int], prefix: str
) -> None:
    host, port = shared_broker
    group = f"g{uuid.uuid4().hex[:8]}"
    a_sink, b_sink = Sink(), Sink()
    a = MqttFeed(settings_for(host, port, prefix, shared_group=group), LiveClock(), name="a")
    b = MqttFeed(settings_for(host, port, prefix, shared_group=group), LiveClock(), name="b")
    ids = [f"s{i:02d}" for i in range(40)]
    async with running(a, a_sink), running(b, b_sink):
        await a_sink.wait_until(lambda: a_sink.connections == [True])
        await b_sink.wait_until(lambda: b_sink.connections == [True])
        async with publisher(host, port) as pub:
            for news_id in ids:
                await pub.publish(f"{prefix}/news/x", headline(news_id), qos=1)
            # A marker after the headlines: once each feed has it, nothing more is coming.
            await pub.publish(f"{prefix}/news/x", headline("end-a"), qos=1)
            await pub.publish(f"{prefix}/news/x", headline("end-b"), qos=1)
        both = lambda: len(a_sink.items) + len(b_sink.items) == len(ids) + 2  # noqa: E731
        await a_sink.wait_until(both)
    got_a = [i for i in a_sink.news_ids() if i in ids]
    got_b = [i for i in b_sink.news_ids() if i in ids]
    assert sorted(got_a + got_b) == ids  # each headline exactly once over the two
    assert not set(got_a) & set(got_b)
    assert got_a and got_b  # and both took a share
    assert a.news_subscription == f"$share/{group}/{prefix}/news/#"


@pytest.mark.asyncio
async def test_cancelling_run_returns_promptly_and_leaves_nothing_running(
    shared_broker: tuple[str, int], prefix: str
) -> None:
    host, port = shared_broker
    feed, sink = MqttFeed(settings_for(host, port, prefix), LiveClock()), Sink()
    before = asyncio.all_tasks()
    task = asyncio.create_task(feed.run(sink))
    await sink.wait_until(lambda: sink.connections == [True])
    async with publisher(host, port) as pub:
        await pub.publish(f"{prefix}/ticks/x", frame(10), qos=0)
    await sink.wait_until(lambda: len(sink.batches) == 1)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2.0
    assert asyncio.all_tasks() == before
    assert sink.connections == [True, False]
    assert not feed.connected


@pytest.mark.asyncio
async def test_cancelling_while_the_broker_is_unreachable_returns_promptly(
    mosquitto_broker: Mosquitto, prefix: str
) -> None:
    broker = mosquitto_broker
    broker.stop()
    feed, sink = MqttFeed(settings_for(broker.host, broker.port, prefix), LiveClock()), Sink()
    before = asyncio.all_tasks()
    task = asyncio.create_task(feed.run(sink))
    await asyncio.wait_for(_until(lambda: feed.failed_connects >= 2), 10)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2.0
    assert asyncio.all_tasks() == before
    assert sink.connections == []
