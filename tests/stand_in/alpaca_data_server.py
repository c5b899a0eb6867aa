"""A local stand-in for Alpaca's historical data REST API, for tests (no network).

Speaks just enough of it for alpaca-py's `NewsClient` and `StockHistoricalDataClient` built
with `url_override=stand_in.url`:

- `GET /v1beta1/news?symbols=A,B&start&end&limit&page_token&sort` →
  `{"news": [...], "next_page_token": str|null}`, newest first (Alpaca's default sort).
- `GET /v2/stocks/bars?symbols=A,B&timeframe=1Day&start&end&limit&page_token` →
  `{"bars": {"A": [{"t","o","h","l","c","v","n","vw"}, ...]}, "next_page_token": ...}`.
- `GET /v2/stocks/trades?symbols=...` → `{"trades": {"A": [{"t","x","p","s","c","i","z"}]}, ...}`.

Multi-symbol pages hold at most `limit` items in all (symbols in alphabetical order, then time),
as Alpaca's do. The data is deterministic and made up: one daily bar per weekday, a few trades
a weekday, one headline per symbol per weekday. Requests need the `APCA-API-KEY-ID` and
`APCA-API-SECRET-KEY` headers (401 otherwise); every request is recorded in `requests`.

    with AlpacaDataStandIn() as server:
        NewsClient("test-key", "test-secret", url_override=server.url)
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.stand_in.background import BackgroundServer

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the stand-in answered."""

    path: str
    query: dict[str, str]
    status: int


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def _parse_time(text: str | None, default: dt.datetime) -> dt.datetime:
    if not text:
        return default
    if len(text) == 10:  # YYYY-MM-DD
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _rfc3339(t: dt.datetime, nanos: int | None = None) -> str:
    t = t.astimezone(dt.UTC)
    if nanos is None:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _weekdays(start: dt.datetime, end: dt.datetime) -> Iterator[dt.date]:
    day = start.date()
    while day <= end.date():
        if day.weekday() < 5:
            yield day
        day += dt.timedelta(days=1)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise web.HTTPBadRequest(
            text='{"code":40010001,"message":"invalid page_token"}',
            content_type="application/json",
        ) from exc


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


class AlpacaDataStandIn(BackgroundServer):
    """The stand-in server, run on 127.0.0.1 (a free port) in a thread with its own event loop.

    `fail_symbols` maps a symbol to an HTTP status returned for any bars/trades request naming it
    (e.g. 403, as Alpaca answers a feed the subscription does not cover).
    `page_cap` caps the items per page below the client's `limit` (Alpaca's cap is 10,000).
    """

    thread_name = "alpaca-data-stand-in"

    def __init__(
        self,
        api_key: str = "test-key",
        secret_key: str = "test-secret",
        *,
        trades_per_day: int = 3,
        page_cap: int = 10_000,
        fail_symbols: dict[str, int] | None = None,
    ) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.trades_per_day = trades_per_day
        self.page_cap = page_cap
        self.fail_symbols = dict(fail_symbols or {})
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        super().__init__()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to pass to alpaca-py as `url_override`."""
        return f"http://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        """The data API's routes."""
        app = web.Application(middlewares=[self._record_and_auth])
        app.router.add_get("/v1beta1/news", self._news)
        app.router.add_get("/v2/stocks/bars", self._bars)
        app.router.add_get("/v2/stocks/trades", self._trades)
        return app

    # -- bookkeeping for tests ---------------------------------------------------------------

    def count(self, path: str | None = None, symbol: str | None = None) -> int:
        """Requests answered so far, optionally only those to `path` / naming `symbol`."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path)
                and (symbol is None or symbol in r.query.get("symbols", "").split(","))
            )

    def reset(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self.requests.clear()

    @web.middleware
    async def _record_and_auth(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if (
            request.headers.get("APCA-API-KEY-ID") != self.api_key
            or request.headers.get("APCA-API-SECRET-KEY") != self.secret_key
        ):
            response: web.StreamResponse = _error(401, 40110000, "request is not authorized")
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        with self._lock:
            self.requests.append(Recorded(request.path, dict(request.query), response.status))
        return response

    # -- endpoints ---------------------------------------------------------------------------

    def _window(self, request: web.Request) -> tuple[dt.datetime, dt.datetime]:
        now = dt.datetime.now(dt.UTC)
        start = _parse_time(
            request.query.get("start"), now.replace(hour=0, minute=0, second=0, microsecond=0)
        )
        end = _parse_time(request.query.get("end"), now)
        return start, end

    def _limit(self, request: web.Request, default: int, cap: int) -> int:
        try:
            limit = int(request.query.get("limit") or default)
        except ValueError:
            limit = 0
        if not 1 <= limit <= cap:
            raise web.HTTPUnprocessableEntity(
                text=f'{{"code":42210000,"message":"invalid limit: must be 1..{cap}"}}',
                content_type="application/json",
            )
        return min(limit, self.page_cap)

    @staticmethod
    def _symbols(request: web.Request) -> list[str]:
        raw = request.query.get("symbols", "")
        return [s.strip().upper() for s in raw.split(",") if s.strip()]

    async def _news(self, request: web.Request) -> web.Response:
        start, end = self._window(request)
        limit = self._limit(request, 10, 50)
        symbols = self._symbols(request)
        items: list[JSON] = []
        for day in _weekdays(start, end):
            for i, symbol in enumerate(symbols or ["SPY"]):
                created = dt.datetime.combine(day, dt.time(12 + i % 8, 5 * (i % 12)), dt.UTC)
                if not start <= created <= end:
                    continue
                nid = _seed("news", symbol, day) % 90_000_000 + 10_000_000
                items.append(
                    {
                        "id": nid,
                        "headline": f"{symbol} news for {day.isoformat()} (item {nid})",
                        "summary": f"What happened at {symbol} on {day:%d %B %Y}.",
                        "author": "Stand-in Newsroom",
                        "created_at": _rfc3339(created),
                        "updated_at": _rfc3339(created + dt.timedelta(minutes=1)),
                        "url": f"https://news.example/{symbol.lower()}/{nid}",
                        "content": "",
                        "images": [],
                        "symbols": [symbol],
                        "source": "benzinga",
                    }
                )
        descending = request.query.get("sort", "desc").lower() != "asc"
        items.sort(key=lambda n: (n["created_at"], n["id"]), reverse=descending)
        offset = _offset(request.query.get("page_token"))
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return web.json_response(
            {"news": page, "next_page_token": _token(offset + limit) if more else None}
        )

    def _market(
        self, request: web.Request, key: str, make: Callable[[str, dt.date], list[JSON]]
    ) -> web.Response:
        symbols = self._symbols(request)
        if not symbols:
            return _error(400, 40010001, "symbols is required")
        for symbol in symbols:
            if symbol in self.fail_symbols:
                status = self.fail_symbols[symbol]
                return _error(status, 40310000, f"subscription does not permit {symbol}")
        start, end = self._window(request)
        limit = self._limit(request, 1000, 10_000)
        flat: list[tuple[str, JSON]] = []
        for symbol in sorted(symbols):
            for day in _weekdays(start, end):
                flat.extend(
                    (symbol, item)
                    for item in make(symbol, day)
                    if start <= _parse_time(item["t"][:19], start) <= end
                )
        offset = _offset(request.query.get("page_token"))
        page: dict[str, list[JSON]] = {}
        for symbol, item in flat[offset : offset + limit]:
            page.setdefault(symbol, []).append(item)
        more = offset + limit < len(flat)
        return web.json_response(
            {key: page, "next_page_token": _token(offset + limit) if more else None}
        )

    async def _bars(self, request: web.Request) -> web.Response:
        if request.query.get("timeframe") != "1Day":
            return _error(422, 42210000, "the stand-in serves only timeframe=1Day")
        return self._market(request, "bars", _bar)

    async def _trades(self, request: web.Request) -> web.Response:
        return self._market(request, "trades", self._day_trades)

    def _day_trades(self, symbol: str, day: dt.date) -> list[JSON]:
        base = _price(symbol, day)
        out = []
        for k in range(self.trades_per_day):
            seconds = 14 * 3600 + 30 * 60 + k * (23_400 // max(self.trades_per_day, 1))
            t = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(seconds=seconds)
            nanos = _seed("ns", symbol, day, k) % 1_000_000_000
            out.append(
                {
                    "t": _rfc3339(t, nanos),
                    "x": "V",
                    "p": round(base * (1 + ((_seed("p", symbol, day, k) % 201) - 100) / 10_000), 2),
                    "s": 1 + _seed("s", symbol, day, k) % 500,
                    "c": ["@"],
                    "i": _seed("i", symbol, day, k),
                    "z": "C",
                }
            )
        return out


def _price(symbol: str, day: dt.date) -> float:
    """A made-up, smooth, deterministic price path per symbol."""
    base = 20 + _seed("base", symbol) % 300
    n = day.toordinal()
    wiggle = ((_seed("d", symbol, day) % 2001) - 1000) / 100_000  # ±1 %
    return round(base * (1 + 0.1 * ((n % 97) / 97 - 0.5)) * (1 + wiggle), 2)


def _bar(symbol: str, day: dt.date) -> list[JSON]:
    close = _price(symbol, day)
    open_ = _price(symbol, day - dt.timedelta(days=1))
    high = round(max(open_, close) * 1.005, 2)
    low = round(min(open_, close) * 0.995, 2)
    # Alpaca stamps a daily bar at midnight New York time, in UTC (04:00Z or 05:00Z).
    hour = 4 if 3 <= day.month <= 10 else 5
    t = dt.datetime.combine(day, dt.time(hour), dt.UTC)
    return [
        {
            "t": _rfc3339(t),
            "o": open_,
            "h": high,
            "l": low,
            "c": close,
            "v": 1_000_000 + _seed("v", symbol, day) % 5_000_000,
            "n": 10_000 + _seed("n", symbol, day) % 50_000,
            "vw": round((open_ + close + high + low) / 4, 4),
        }
    ]
