"""Download historical news and daily bars or trades from Alpaca's data API (alpaca-py).

Behind `spillover data alpaca --symbols ... --start ... --end ... --out DIR`. Writes, in DIR:

- `news.jsonl`: one JSON object a line in Alpaca's news shape (`id, headline, summary, author,
  created_at, updated_at, url, symbols, source, content`), oldest first; `load_news` reads it.
- `bars/SYMBOL.parquet` (`date, symbol, open, high, low, close, volume`; daily bars adjusted for
  splits and dividends) or `trades/SYMBOL.parquet` (`ts` int64 ns UTC, `symbol, price, size`);
  `load_market` reads either folder.
- `manifest.json`: the parts finished and the request each came from.

alpaca-py follows `next_page_token` itself (50 news items, 10,000 bars/trades a page). The work
is split into parts (the news, then one part per symbol), each written to a `.tmp` file and
renamed into place, then recorded in the manifest; a rerun skips parts already finished with the
same request and redoes those whose request (dates, kind, symbols of the news) has changed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment
from alpaca.data.historical.news import NewsClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import NewsRequest, StockBarsRequest, StockTradesRequest
from alpaca.data.timeframe import TimeFrame

from backtests.errors import DataError

KEY_ENV = "APCA_API_KEY_ID"
SECRET_ENV = "APCA_API_SECRET_KEY"
NEWS_FIELDS = (
    "id",
    "headline",
    "summary",
    "author",
    "created_at",
    "updated_at",
    "url",
    "symbols",
    "source",
    "content",
)
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

Kind = Literal["bars", "trades"]
Progress = Callable[[str, int, int], None]
"""Called after each part as `progress(part, parts_done, parts_total)`; part is e.g. `bars/AAPL`."""


@dataclass(slots=True)
class DownloadSummary:
    """What a `download` call did."""

    out_dir: Path
    kind: str
    downloaded: list[str] = field(default_factory=list)  # parts fetched by this call
    skipped: list[str] = field(default_factory=list)  # parts already finished before it
    rows: dict[str, int] = field(default_factory=dict)  # rows (news items) per part


def keys_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Alpaca key id and secret from the environment; DataError naming what is missing."""
    env = os.environ if env is None else env
    key = env.get(KEY_ENV, "").strip()
    secret = env.get(SECRET_ENV, "").strip()
    missing = [name for name, value in ((KEY_ENV, key), (SECRET_ENV, secret)) if not value]
    if missing:
        raise DataError(_missing_keys(missing))
    return key, secret


def _missing_keys(missing: list[str]) -> str:
    return (
        f"Alpaca API keys missing: set {' and '.join(missing)} in the environment "
        f"(both {KEY_ENV} and {SECRET_ENV} are needed; free keys at https://alpaca.markets)"
    )


def download(
    symbols: list[str],
    start: dt.date,
    end: dt.date,
    out_dir: Path,
    *,
    kind: Kind = "bars",
    api_key: str,
    secret_key: str,
    url_override: str | None = None,
    progress: Progress | None = None,
) -> DownloadSummary:
    """Fetch news for `symbols` and their daily bars or trades over [start, end] (whole UTC days)."""
    missing = [n for n, v in ((KEY_ENV, api_key), (SECRET_ENV, secret_key)) if not v]
    if missing:
        raise DataError(_missing_keys(missing))
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
    if not wanted:
        raise DataError("no symbols given: pass at least one, e.g. --symbols AAPL,MSFT")
    if kind not in ("bars", "trades"):
        raise DataError(f"unknown market data kind {kind!r}: use 'bars' or 'trades'")
    if start > end:
        raise DataError(f"start {start} is after end {end}")

    out_dir = Path(out_dir)
    (out_dir / kind).mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out_dir)
    t0 = dt.datetime.combine(start, dt.time(), dt.UTC)
    t1 = dt.datetime.combine(end, dt.time(23, 59, 59), dt.UTC)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    summary = DownloadSummary(out_dir, kind)
    parts: list[tuple[str, dict[str, Any], Path]] = [
        ("news", {**window, "symbols": sorted(wanted)}, out_dir / "news.jsonl")
    ]
    for symbol in wanted:
        params = {**window, "kind": kind, "symbol": symbol}
        if kind == "bars":
            params |= {"timeframe": "1Day", "adjustment": "all"}
        parts.append((f"{kind}/{symbol}", params, out_dir / kind / f"{_file_stem(symbol)}.parquet"))

    news_client: NewsClient | None = None
    stock_client: StockHistoricalDataClient | None = None
    for n, (part, params, path) in enumerate(parts, 1):
        done = manifest.get(part)
        if isinstance(done, dict) and done.get("params") == params and path.exists():
            summary.skipped.append(part)
            summary.rows[part] = int(done.get("rows", 0))
        else:
            if part == "news":
                news_client = news_client or NewsClient(
                    api_key, secret_key, raw_data=True, url_override=url_override
                )
                rows = _download_news(news_client, wanted, t0, t1, path, url_override)
            else:
                stock_client = stock_client or StockHistoricalDataClient(
                    api_key, secret_key, raw_data=True, url_override=url_override
                )
                rows = _download_market(
                    stock_client, kind, params["symbol"], t0, t1, path, url_override
                )
            manifest[part] = {
                "params": params,
                "rows": rows,
                "file": str(path.relative_to(out_dir)),
            }
            _write_manifest(out_dir, manifest)
            summary.downloaded.append(part)
            summary.rows[part] = rows
        if progress is not None:
            progress(part, n, len(parts))
    return summary


def _file_stem(symbol: str) -> str:
    """`BRK.B` → `BRK-B` (load_market turns `-` back into `.`)."""
    return symbol.replace(".", "-").replace("/", "-")


def _call(what: str, url_override: str | None, fetch: Callable[[], Any]) -> dict[str, Any]:
    """Run one alpaca-py call (which pages itself); its failures as DataError."""
    try:
        raw = fetch()
    except APIError as exc:
        status = exc.status_code
        hint = ""
        if status in (401, 403):
            hint = f"; check {KEY_ENV} / {SECRET_ENV} and that your Alpaca plan covers this data"
        detail = str(exc).strip()[:300]
        raise DataError(
            f"Alpaca data API refused the {what} request: HTTP {status}: {detail}{hint}"
        ) from None
    except requests.RequestException as exc:
        where = url_override or "Alpaca's data API"
        raise DataError(f"cannot reach {where} for the {what} request: {exc}") from None
    if not isinstance(raw, dict):
        raise DataError(f"unexpected answer to the {what} request: {type(raw).__name__}")
    return raw


def _download_news(
    client: NewsClient,
    symbols: list[str],
    t0: dt.datetime,
    t1: dt.datetime,
    path: Path,
    url_override: str | None,
) -> int:
    request = NewsRequest(symbols=",".join(symbols), start=t0, end=t1, sort="asc")
    raw = _call(f"news for {','.join(symbols)}", url_override, lambda: client.get_news(request))
    by_id: dict[Any, dict[str, Any]] = {}
    for item in raw.get("news") or []:
        by_id[item.get("id")] = {f: item.get(f) for f in NEWS_FIELDS}
    items = sorted(by_id.values(), key=lambda i: (str(i["created_at"]), str(i["id"])))
    _write_atomic(path, b"".join(orjson.dumps(i) + b"\n" for i in items))
    return len(items)


def _download_market(
    client: StockHistoricalDataClient,
    kind: Kind,
    symbol: str,
    t0: dt.datetime,
    t1: dt.datetime,
    path: Path,
    url_override: str | None,
) -> int:
    if kind == "bars":
        bars = StockBarsRequest(
            symbol_or_symbols=[symbol],
            timeframe=TimeFrame.Day,
            start=t0,
            end=t1,
            adjustment=Adjustment.ALL,
        )
        raw = _call(f"bars for {symbol}", url_override, lambda: client.get_stock_bars(bars))
        frame = _bars_frame(symbol, raw.get(symbol) or [])
    else:
        trades = StockTradesRequest(symbol_or_symbols=[symbol], start=t0, end=t1)
        raw = _call(f"trades for {symbol}", url_override, lambda: client.get_stock_trades(trades))
        frame = _trades_frame(symbol, raw.get(symbol) or [])
    tmp = path.with_name(path.name + ".tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)
    return frame.height


def _timestamps(rows: list[dict[str, Any]]) -> pl.Series:
    """Alpaca's RFC 3339 `t` values (up to ns precision) as UTC datetimes."""
    return pl.Series("t", [r["t"] for r in rows], dtype=pl.String).str.to_datetime(
        time_unit="ns", time_zone="UTC"
    )


def _bars_frame(symbol: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    # A daily bar is stamped at midnight New York time (04:00Z/05:00Z): its UTC date is its day.
    return pl.DataFrame(
        {
            "date": _timestamps(rows).dt.date(),
            "symbol": [symbol] * len(rows),
            "open": [float(r["o"]) for r in rows],
            "high": [float(r["h"]) for r in rows],
            "low": [float(r["l"]) for r in rows],
            "close": [float(r["c"]) for r in rows],
            "volume": [float(r["v"]) for r in rows],
        },
        schema={
            "date": pl.Date,
            "symbol": pl.String,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
        },
    ).sort("date")


def _trades_frame(symbol: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": _timestamps(rows).dt.epoch("ns"),
            "symbol": [symbol] * len(rows),
            "price": [float(r["p"]) for r in rows],
            "size": [float(r["s"]) for r in rows],
        },
        schema={"ts": pl.Int64, "symbol": pl.String, "price": pl.Float64, "size": pl.Float64},
    ).sort("ts", maintain_order=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_manifest(out_dir: Path) -> dict[str, Any]:
    """Finished parts by name; an unreadable or older manifest means nothing is finished."""
    try:
        data = orjson.loads((out_dir / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return {}
    parts = data.get("parts")
    return dict(parts) if isinstance(parts, dict) else {}


def _write_manifest(out_dir: Path, parts: dict[str, Any]) -> None:
    body = {"version": MANIFEST_VERSION, "parts": parts}
    _write_atomic(out_dir / MANIFEST, orjson.dumps(body, option=orjson.OPT_INDENT_2))
