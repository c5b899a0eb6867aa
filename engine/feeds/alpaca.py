"""Alpaca's live news and stock trades as a `Feed`, through alpaca-py's data streams.

`NewsDataStream` (every headline, `*`) and `StockDataStream` (trades of the given symbols on
`data_feed`) run inside our event loop: handlers are registered first, then each stream's
`_run_forever()` runs as a task (`stream.run()` would start a second loop, and `subscribe_*` or
`stop()` called from the loop thread while connected deadlock). The streams reconnect by
themselves (1–30 s backoff); we stop them with `stop_ws()`, cancel their tasks (a pending
`recv()` would otherwise hold on for up to 5 s) and close the sockets.

Messages arrive raw (`raw_data=True`: dicts with msgpack Timestamps, no pydantic model per
trade). A headline becomes a `NewsItem` (`ts_event` from `created_at`, `ts_init` on receipt);
trades dispatched in the same loop turn — one websocket frame — are handed over as one
`TradeBatch`. A message that does not convert goes to `sink.bad_message` (re-packed as msgpack).
Connection changes are seen by a small subclass of each stream (`_start_ws` / `close`): the feed
is connected while every stream is, and wrong keys end `run` with `AlpacaKeysError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import msgpack  # type: ignore[import-untyped]
import numpy as np
from alpaca.data.enums import DataFeed
from alpaca.data.live.news import NewsDataStream
from alpaca.data.live.stock import StockDataStream
from alpaca.data.live.websocket import DataStream

from engine.alpaca import KEYS_HINT, AlpacaError, AlpacaKeysError, resolve_keys
from engine.clock import Clock
from engine.feeds.base import FeedSink, TradeBatch
from engine.news import NewsItem, parse_time_ns
from engine.settings import AlpacaSettings

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 3.0
_AUTH_WORDS = ("auth failed", "not authenticated", "failed to authenticate", "forbidden")


class _NoFrameDumps(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger minus DEBUG: its frame dumps would show the auth frame (the secret)."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


# alpaca-py's defaults, plus a logger that never dumps frames
_WEBSOCKET_PARAMS: dict[str, Any] = {
    "ping_interval": 10,
    "ping_timeout": 180,
    "max_queue": 1024,
    "logger": _NoFrameDumps(logging.getLogger("websockets.client"), {}),
}


def _time_ns(value: Any, what: str) -> int:
    if isinstance(value, msgpack.Timestamp):
        return int(value.to_unix_nano())
    return parse_time_ns(value, what)


def news_from_alpaca(msg: dict[str, Any], ts_init: int) -> NewsItem:
    """Build a `NewsItem` from a raw Alpaca news message (`T:"n"`)."""
    headline = msg.get("headline")
    if not isinstance(headline, str) or not headline.strip():
        raise ValueError("missing 'headline'")
    if msg.get("id") is None:
        raise ValueError("missing 'id'")
    symbols = msg.get("symbols") or []
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise ValueError("'symbols' must be a list of strings")
    summary, source = msg.get("summary") or "", msg.get("source") or ""
    return NewsItem(
        id=str(msg["id"]),
        headline=headline,
        ts_event=_time_ns(msg.get("created_at"), "created_at"),
        ts_init=ts_init,
        summary=summary if isinstance(summary, str) else "",
        symbols=symbols,
        source=source if isinstance(source, str) else "",
    )


def _packed(msg: Any) -> bytes:
    try:
        return bytes(msgpack.packb(msg))
    except (TypeError, ValueError):
        return repr(msg).encode()


class _Reporting(DataStream):
    """A data stream that tells its feed when it connects, disconnects or is refused."""

    label = "stream"
    on_change: Callable[[str, bool], None]
    on_refused: Callable[[str, str], None]
    is_up = False

    async def _start_ws(self) -> None:
        try:
            await super()._start_ws()
        except ValueError as exc:
            self.on_refused(self.label, str(exc))
            raise
        self.is_up = True
        self.on_change(self.label, True)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.is_up:
                self.is_up = False
                self.on_change(self.label, False)


class _NewsStream(_Reporting, NewsDataStream):
    label = "news"


class _StockStream(_Reporting, StockDataStream):
    label = "trades"


class AlpacaFeed:
    """Live news and trades from Alpaca, delivered to a `FeedSink`."""

    def __init__(
        self,
        settings: AlpacaSettings,
        clock: Clock,
        symbols: list[str],
        name: str = "alpaca",
    ) -> None:
        self._keys = resolve_keys(settings)
        self.settings = settings
        self.clock = clock
        self.symbols = sorted({s.upper() for s in symbols})
        self.name = name
        self.counts = {"news": 0, "trades": 0, "batches": 0, "bad": 0, "reconnects": 0}
        self._sink: FeedSink | None = None
        self._up: dict[str, bool] = {}
        self._connected = False
        self._refused: asyncio.Future[AlpacaKeysError] | None = None
        self._symbols: list[str] = []
        self._ts: list[int] = []
        self._prices: list[float] = []
        self._sizes: list[float] = []
        self._batch_ts_init = 0
        self._flush_pending = False
        self._stopping = False

    def __repr__(self) -> str:
        return f"AlpacaFeed(name={self.name!r}, symbols={len(self.symbols)})"

    def _streams(self) -> list[_Reporting]:
        for private in ("_run_forever", "_start_ws"):
            if not hasattr(DataStream, private):
                raise AlpacaError(
                    f"alpaca-py changed: its data streams have no {private}; "
                    "engine.feeds.alpaca needs updating"
                )
        key, secret = self._keys.key_id.get_secret_value(), self._keys.secret.get_secret_value()
        news = _NewsStream(
            key,
            secret,
            raw_data=True,
            websocket_params=dict(_WEBSOCKET_PARAMS),
            url_override=self.settings.news_url,
        )
        news.subscribe_news(self._on_news, "*")
        streams: list[_Reporting] = [news]
        if self.symbols:  # an unsubscribed stream would spin waiting for a subscription
            trades = _StockStream(
                key,
                secret,
                raw_data=True,
                feed=DataFeed(self.settings.data_feed),
                websocket_params=dict(_WEBSOCKET_PARAMS),
                url_override=self.settings.stocks_url,
            )
            trades.subscribe_trades(self._on_trade, *self.symbols)
            streams.append(trades)
        for stream in streams:
            stream.on_change = self._on_change
            stream.on_refused = self._on_refused
            self._up[stream.label] = False
        return streams

    async def run(self, sink: FeedSink) -> None:
        """Deliver news and trades to `sink` until cancelled; raise if Alpaca refuses the keys."""
        self._sink = sink
        self._stopping = False
        self._refused = asyncio.get_running_loop().create_future()
        streams = self._streams()
        tasks = [
            asyncio.create_task(s._run_forever(), name=f"{self.name}-{s.label}-stream")
            for s in streams
        ]
        try:
            waiters: list[asyncio.Future[Any]] = [*tasks, self._refused]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if self._refused.done():
                raise self._refused.result()
            ended = next(t for t in tasks if t.done())
            raise AlpacaError(f"the Alpaca {ended.get_name()} ended by itself (see the log)")
        finally:
            await self._stop(streams, tasks)
            self._flush()
            if self._connected:
                self._connected = False
                sink.connection(self.name, False)

    async def _stop(self, streams: list[_Reporting], tasks: list[asyncio.Task[None]]) -> None:
        self._stopping = True
        for stream in streams:
            await stream.stop_ws()
        # stop_ws alone is seen only after the pending recv() times out (5 s): cancel too
        for task in tasks:
            task.cancel()
        _, late = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        if late:
            log.warning("%s: %d Alpaca streams did not stop in time", self.name, len(late))
        for stream in streams:
            with contextlib.suppress(Exception):
                await stream.close()

    # -- connection ----------------------------------------------------------------------------

    def _on_change(self, label: str, up: bool) -> None:
        if not up and self._up.get(label) and not self._stopping:
            log.warning("%s: Alpaca %s stream disconnected", self.name, label)
            self.counts["reconnects"] += 1
        self._up[label] = up
        now = all(self._up.values())
        if now != self._connected and self._sink is not None:
            self._connected = now
            self._call(self._sink.connection, self.name, now)

    def _on_refused(self, label: str, message: str) -> None:
        if any(word in message.lower() for word in _AUTH_WORDS):
            error = AlpacaKeysError(
                f"Alpaca {label} stream refused the API keys ({message}): {KEYS_HINT}"
            )
            if self._refused is not None and not self._refused.done():
                self._refused.set_result(error)
        else:
            log.warning(
                "%s: Alpaca %s stream refused the connection: %s", self.name, label, message
            )

    # -- messages ------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a sink error must not cost the rest of the frame
            log.exception("%s: the sink failed in %s", self.name, getattr(fn, "__name__", fn))

    def _bad(self, source: str, msg: Any, reason: str) -> None:
        self.counts["bad"] += 1
        assert self._sink is not None
        self._call(self._sink.bad_message, self.name, source, _packed(msg), reason)

    async def _on_news(self, msg: Any) -> None:
        try:
            if not isinstance(msg, dict):
                raise ValueError(f"expected a map, got {type(msg).__name__}")
            item = news_from_alpaca(msg, self.clock.now_ns())
        except Exception as exc:
            self._bad("news", msg, f"{type(exc).__name__}: {exc}")
            return
        self.counts["news"] += 1
        assert self._sink is not None
        self._call(self._sink.news, item)

    async def _on_trade(self, msg: Any) -> None:
        try:
            symbol = msg["S"]
            ts = _time_ns(msg["t"], "t")
            price, size = float(msg["p"]), float(msg["s"])
            if not isinstance(symbol, str) or not price > 0 or not size >= 0:
                raise ValueError(f"bad trade values S={symbol!r} p={price} s={size}")
        except Exception as exc:
            self._bad("trades", msg, f"{type(exc).__name__}: {exc}")
            return
        if not self._symbols:
            self._batch_ts_init = self.clock.now_ns()
        self._symbols.append(symbol)
        self._ts.append(ts)
        self._prices.append(price)
        self._sizes.append(size)
        if not self._flush_pending:
            # the stream dispatches a frame's messages without yielding: flush after them
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if not self._symbols or self._sink is None:
            return
        batch = TradeBatch(
            symbols=self._symbols,
            ts=np.array(self._ts, dtype=np.int64),
            price=np.array(self._prices, dtype=np.float64),
            size=np.array(self._sizes, dtype=np.float64),
            ts_init=self._batch_ts_init,
        )
        self._symbols, self._ts, self._prices, self._sizes = [], [], [], []
        self.counts["trades"] += len(batch)
        self.counts["batches"] += 1
        self._call(self._sink.trades, batch)
