"""AlpacaFeed: alpaca-py's real news and stock streams against the local msgpack stand-in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from engine.alpaca import AlpacaKeysError
from engine.clock import LiveClock
from engine.feeds.alpaca import AlpacaFeed, news_from_alpaca
from engine.feeds.base import TradeBatch
from engine.news import NewsItem
from engine.settings import AlpacaSettings
from tests.stand_in.alpaca_stream_server import AlpacaStreamStandIn, stamp
from tests.support.waiting import until

KEY, SECRET = "PKSTREAMKEY", "stream-s3cr3t"


class Sink:
    """A `FeedSink` that keeps everything."""

    def __init__(self) -> None:
        self.items: list[NewsItem] = []
        self.batches: list[TradeBatch] = []
        self.bad: list[tuple[str, str, bytes, str]] = []
        self.links: list[bool] = []

    def news(self, item: NewsItem) -> None:
        self.items.append(item)

    def trades(self, batch: TradeBatch) -> None:
        self.batches.append(batch)

    def bad_message(self, feed: str, source: str, payload: bytes, reason: str) -> None:
        self.bad.append((feed, source, payload, reason))

    def connection(self, feed: str, connected: bool) -> None:
        self.links.append(connected)

    @property
    def trade_count(self) -> int:
        return sum(len(b) for b in self.batches)


@pytest.fixture
def server() -> Iterator[AlpacaStreamStandIn]:
    with AlpacaStreamStandIn(KEY, SECRET) as stand_in:
        yield stand_in


def feed_for(server: AlpacaStreamStandIn, symbols: list[str], **changes: Any) -> AlpacaFeed:
    values: dict[str, Any] = {
        "api_key": SecretStr(KEY),
        "secret_key": SecretStr(SECRET),
        "news_url": server.news_url,
        "stocks_url": server.stocks_url,
    }
    values.update(changes)
    return AlpacaFeed(AlpacaSettings(**values), LiveClock(), symbols)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5.0)


@pytest.mark.asyncio
async def test_a_headline_and_trades_arrive_decoded(server: AlpacaStreamStandIn) -> None:
    sink = Sink()
    feed = feed_for(server, ["AAPL", "MSFT"])
    task = asyncio.create_task(feed.run(sink))
    await until(lambda: server.subscribed("news") == 1 and server.subscribed("stocks") == 1)
    await until(lambda: sink.links == [True])
    created = 1_700_000_000_123_456_789
    news_id = server.push_news(
        "Apple recalls every iPhone",
        created_at=stamp(created),
        symbols=["AAPL"],
        summary="A big one.",
    )
    server.push_trades([("AAPL", 190.5, 100), ("MSFT", 410.25, 5)], ts_ns=created + 10)
    await until(lambda: len(sink.items) == 1 and sink.trade_count == 2)
    item = sink.items[0]
    assert item.id == str(news_id)
    assert item.headline == "Apple recalls every iPhone"
    assert item.ts_event == created
    assert item.ts_init >= created
    assert item.symbols == ["AAPL"]
    assert item.summary == "A big one."
    assert item.source == "benzinga"
    (batch,) = sink.batches
    assert batch.symbols == ["AAPL", "MSFT"]
    assert batch.ts.tolist() == [created + 10, created + 11]
    assert batch.price.tolist() == [190.5, 410.25]
    assert batch.size.tolist() == [100.0, 5.0]
    await stop(task)
    assert sink.links == [True, False]


@pytest.mark.asyncio
async def test_trades_of_one_frame_make_one_batch(server: AlpacaStreamStandIn) -> None:
    sink = Sink()
    feed = feed_for(server, ["AAPL"])
    task = asyncio.create_task(feed.run(sink))
    await until(lambda: server.subscribed("stocks") == 1)
    for frame in range(5):
        server.push_trades([("AAPL", 100.0 + frame, 1)] * 200)
    await until(lambda: sink.trade_count == 1000)
    assert [len(b) for b in sink.batches] == [200] * 5
    assert feed.counts["batches"] == 5
    await stop(task)


@pytest.mark.asyncio
async def test_a_bad_message_goes_to_bad_message_and_the_rest_of_the_frame_arrives(
    server: AlpacaStreamStandIn,
) -> None:
    sink = Sink()
    task = asyncio.create_task(feed_for(server, ["AAPL"]).run(sink))
    await until(lambda: server.subscribed("stocks") == 1 and server.subscribed("news") == 1)
    good = {"T": "t", "S": "AAPL", "t": stamp(1), "p": 1.5, "s": 2, "x": "V", "i": 1}
    server.push("stocks", [{"T": "t", "S": "AAPL", "t": stamp(1), "p": "n/a", "s": 2}, good])
    server.push_news("", symbols=["AAPL"])
    await until(lambda: len(sink.bad) == 2 and sink.trade_count == 1)
    (feed, source, payload, reason), news_bad = sink.bad
    assert (feed, source) == ("alpaca", "trades")
    assert msgpack.unpackb(payload)["p"] == "n/a"
    assert "ValueError" in reason
    assert news_bad[1] == "news" and "headline" in news_bad[3]
    await stop(task)


@pytest.mark.asyncio
async def test_a_dropped_connection_is_survived(server: AlpacaStreamStandIn) -> None:
    sink = Sink()
    task = asyncio.create_task(feed_for(server, ["AAPL"]).run(sink))
    await until(lambda: server.subscribed("stocks") == 1 and server.subscribed("news") == 1)
    server.push_news("before the drop")
    await until(lambda: len(sink.items) == 1)
    server.drop()
    await until(lambda: False in sink.links)
    await until(lambda: server.subscribed("stocks") == 1 and server.subscribed("news") == 1)
    await until(lambda: sink.links[-1] is True)
    assert server.connections == 4
    server.push_news("after the drop")
    server.push_trades([("AAPL", 101.0, 3)])
    await until(lambda: len(sink.items) == 2 and sink.trade_count == 1)
    assert sink.items[1].headline == "after the drop"
    assert sink.links == [True, False, True]
    await stop(task)


@pytest.mark.asyncio
async def test_wrong_keys_end_run_with_a_clear_error(
    server: AlpacaStreamStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = Sink()
    feed = feed_for(server, ["AAPL"], secret_key=SecretStr("wrong-Zq9-secret"))
    with pytest.raises(AlpacaKeysError, match="refused the API keys") as info:
        await asyncio.wait_for(feed.run(sink), 10.0)
    assert "APCA_API_KEY_ID" in str(info.value)
    assert "wrong-Zq9-secret" not in str(info.value)
    assert server.auth_failures >= 1
    assert True not in sink.links
    assert "wrong-Zq9-secret" not in caplog.text
    hex_tail = " ".join(f"{b:02x}" for b in b"Zq9-secret")[-20:]  # websockets' frame dumps
    assert hex_tail not in caplog.text
    assert "websockets.client" in caplog.text or "connecting" in caplog.text


@pytest.mark.asyncio
async def test_cancelling_run_stops_everything_within_five_seconds(
    server: AlpacaStreamStandIn,
) -> None:
    sink = Sink()
    task = asyncio.create_task(feed_for(server, ["AAPL", "MSFT"]).run(sink))
    await until(lambda: server.subscribed("stocks") == 1 and server.subscribed("news") == 1)
    started = time.monotonic()
    await stop(task)
    assert time.monotonic() - started < 5.0
    await until(lambda: server.subscribed("stocks") == 0 and server.subscribed("news") == 0)
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


def test_news_from_alpaca_takes_datetimes_and_text_times_too() -> None:
    msg = {"id": 7, "headline": "h", "created_at": "2024-01-02T03:04:05Z", "symbols": []}
    assert news_from_alpaca(msg, 5).ts_event == 1_704_164_645_000_000_000
    with pytest.raises(ValueError, match="headline"):
        news_from_alpaca({"id": 1}, 0)


@given(
    ns=st.integers(0, 2**62),
    news_id=st.integers(1, 2**53),
    headline=st.text(min_size=1).filter(str.strip),
    symbols=st.lists(st.from_regex(r"[A-Z]{1,5}", fullmatch=True), max_size=4),
)
def test_news_from_alpaca_keeps_id_time_text_and_symbols(
    ns: int, news_id: int, headline: str, symbols: list[str]
) -> None:
    wire = msgpack.unpackb(
        msgpack.packb(
            {"id": news_id, "headline": headline, "created_at": stamp(ns), "symbols": symbols}
        )
    )
    item = news_from_alpaca(wire, 42)
    assert (item.id, item.headline, item.ts_event, item.ts_init) == (str(news_id), headline, ns, 42)
    assert item.symbols == symbols
