"""A local stand-in for Alpaca's market-data websockets (news and stock trades), for tests.

Speaks Alpaca's msgpack protocol in binary frames, as alpaca-py's `NewsDataStream` and
`StockDataStream` expect: on connect `[{"T":"success","msg":"connected"}]`; the client's
`{"action":"auth","key","secret"}` gets `[{"T":"success","msg":"authenticated"}]` (or
`[{"T":"error","code":402,"msg":"auth failed"}]` and a close); `{"action":"subscribe",...}` gets
a `{"T":"subscription",...}` ack. Then `push_news` / `push_trades` send `T:"n"` / `T:"t"` frames,
times as msgpack Timestamp ext values, to every subscribed client; `drop()` cuts every
connection (the streams reconnect by themselves).

    with AlpacaStreamStandIn() as server:
        NewsDataStream("test-key", "test-secret", url_override=server.news_url)
        StockDataStream("test-key", "test-secret", url_override=server.stocks_url)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from tests.stand_in.background import BackgroundServer

NEWS_PATH = "/v1beta1/news"
STOCKS_PATH = "/v2/iex"


def stamp(ns: int) -> msgpack.Timestamp:
    """A msgpack Timestamp ext value, as Alpaca sends times."""
    return msgpack.Timestamp.from_unix_nano(ns)


@dataclass(slots=True)
class _Client:
    ws: web.WebSocketResponse
    kind: str  # "news" or "stocks"
    transport: asyncio.BaseTransport | None
    subscribed: dict[str, list[str]] = field(default_factory=dict)


class AlpacaStreamStandIn(BackgroundServer):
    """The stand-in on 127.0.0.1 (a free port), in a thread with its own event loop."""

    thread_name = "alpaca-stream-stand-in"

    def __init__(self, api_key: str = "test-key", secret_key: str = "test-secret") -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.connections = 0  # accepted websocket connections so far
        self.auth_failures = 0
        self._clients: list[_Client] = []
        super().__init__()
        self._next_id = 1000

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def news_url(self) -> str:
        """`url_override` for `NewsDataStream`."""
        return f"ws://127.0.0.1:{self.port}{NEWS_PATH}"

    @property
    def stocks_url(self) -> str:
        """`url_override` for `StockDataStream`."""
        return f"ws://127.0.0.1:{self.port}{STOCKS_PATH}"

    def before_stop(self) -> None:
        """Close every connection first."""
        self.drop()

    def make_app(self) -> web.Application:
        """The news and stocks websocket endpoints."""
        app = web.Application()
        app.router.add_get(NEWS_PATH, self._news)
        app.router.add_get(STOCKS_PATH, self._stocks)
        return app

    # -- what tests call ---------------------------------------------------------------------

    def subscribed(self, kind: str) -> int:
        """Clients of `kind` ("news" / "stocks") that are authenticated and subscribed now."""
        return sum(1 for c in list(self._clients) if c.kind == kind and c.subscribed)

    def push_news(self, headline: str, **fields: Any) -> int:
        """Send one headline to news subscribers; returns its id."""
        self._next_id += 1
        now = time.time_ns()
        msg: dict[str, Any] = {
            "T": "n",
            "id": self._next_id,
            "headline": headline,
            "summary": "",
            "author": "Stand-in Newsroom",
            "created_at": stamp(now),
            "updated_at": stamp(now),
            "url": f"https://news.example/{self._next_id}",
            "content": "",
            "symbols": [],
            "source": "benzinga",
        }
        msg.update(fields)
        self.push("news", [msg])
        return int(msg["id"])

    def push_trades(self, trades: list[tuple[str, float, float]], ts_ns: int | None = None) -> None:
        """Send (symbol, price, size) trades to stock subscribers, all in one frame."""
        base = ts_ns if ts_ns is not None else time.time_ns()
        frame = [
            {
                "T": "t",
                "S": symbol,
                "t": stamp(base + k),
                "p": price,
                "s": size,
                "x": "V",
                "i": k,
                "c": ["@"],
                "z": "C",
            }
            for k, (symbol, price, size) in enumerate(trades)
        ]
        self.push("stocks", frame)

    def push(self, kind: str, frame: list[dict[str, Any]] | bytes) -> None:
        """Send one frame (a list of messages, or raw bytes) to subscribed clients of `kind`."""
        data = frame if isinstance(frame, bytes) else msgpack.packb(frame)
        self._run(self._broadcast(kind, data))

    def drop(self) -> None:
        """Cut every connection at once (no close handshake)."""
        if self._loop is not None:
            self._run(self._drop())

    async def _broadcast(self, kind: str, data: bytes) -> None:
        for client in list(self._clients):
            if client.kind == kind and client.subscribed and not client.ws.closed:
                await client.ws.send_bytes(data)

    async def _drop(self) -> None:
        for client in list(self._clients):
            if isinstance(client.transport, asyncio.Transport):
                client.transport.abort()
        self._clients.clear()

    # -- protocol ----------------------------------------------------------------------------

    async def _news(self, request: web.Request) -> web.WebSocketResponse:
        return await self._session(request, "news")

    async def _stocks(self, request: web.Request) -> web.WebSocketResponse:
        return await self._session(request, "stocks")

    async def _session(self, request: web.Request, kind: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        client = _Client(ws, kind, request.transport)
        await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "connected"}]))
        authenticated = False
        self._clients.append(client)
        try:
            async for message in ws:
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    break
                raw = message.data if isinstance(message.data, bytes) else message.data.encode()
                body = msgpack.unpackb(raw)
                action = body.get("action")
                if action == "auth":
                    if body.get("key") == self.api_key and body.get("secret") == self.secret_key:
                        authenticated = True
                        reply = [{"T": "success", "msg": "authenticated"}]
                        await ws.send_bytes(msgpack.packb(reply))
                    else:
                        self.auth_failures += 1
                        reply = [{"T": "error", "code": 402, "msg": "auth failed"}]
                        await ws.send_bytes(msgpack.packb(reply))
                        await ws.close()
                        break
                elif action == "subscribe" and authenticated:
                    for channel, symbols in body.items():
                        if channel != "action":
                            client.subscribed.setdefault(channel, []).extend(symbols)
                    ack = {"T": "subscription", **client.subscribed}
                    await ws.send_bytes(msgpack.packb([ack]))
                elif not authenticated:
                    reply = [{"T": "error", "code": 401, "msg": "not authenticated"}]
                    await ws.send_bytes(msgpack.packb(reply))
        finally:
            if client in self._clients:
                self._clients.remove(client)
        return ws
