"""backtests.alpaca_download with the real alpaca-py clients against a local stand-in server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest
from alpaca.data.models.bars import BarSet
from alpaca.data.models.news import NewsSet
from alpaca.data.models.trades import TradeSet

from backtests.alpaca_download import download, keys_from_env
from backtests.data import load_market, load_news
from backtests.errors import DataError
from tests.stand_in.alpaca_data_server import AlpacaDataStandIn

KEY, SECRET = "test-key", "test-secret"
START, END = dt.date(2024, 1, 1), dt.date(2024, 12, 31)  # 262 weekdays
SYMBOLS = ["AAPL", "MSFT"]
NEWS, BARS, TRADES = "/v1beta1/news", "/v2/stocks/bars", "/v2/stocks/trades"


@pytest.fixture
def server() -> Iterator[AlpacaDataStandIn]:
    with AlpacaDataStandIn(KEY, SECRET, page_cap=100) as s:
        yield s


def run(server: AlpacaDataStandIn, out: Path, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "kind": "bars",
        "api_key": KEY,
        "secret_key": SECRET,
        "url_override": server.url,
    }
    args.update(kw)
    start = args.pop("start", START)
    end = args.pop("end", END)
    symbols = args.pop("symbols", SYMBOLS)
    return download(symbols, start, end, out, **args)  # type: ignore[arg-type]


def test_downloads_news_and_bars_that_load(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    summary = run(server, tmp_path, progress=lambda p, i, n: seen.append((p, i, n)))

    assert summary.downloaded == ["news", "bars/AAPL", "bars/MSFT"]
    assert seen == [("news", 1, 3), ("bars/AAPL", 2, 3), ("bars/MSFT", 3, 3)]
    # 262 weekdays x 2 symbols of news at 50 a page; 262 bars a symbol at 100 a page (page_cap).
    assert summary.rows == {"news": 524, "bars/AAPL": 262, "bars/MSFT": 262}
    assert server.count(NEWS) == 11
    assert server.count(BARS, "AAPL") == 3 and server.count(BARS, "MSFT") == 3
    assert all(r.query["limit"] == "50" for r in server.requests if r.path == NEWS)

    news = load_news(tmp_path / "news.jsonl")
    assert news.height == 524 and news["id"].n_unique() == 524
    assert set(news["symbols"].explode().to_list()) == set(SYMBOLS)
    first = orjson.loads((tmp_path / "news.jsonl").read_bytes().splitlines()[0])
    assert list(first) == [
        "id", "headline", "summary", "author", "created_at", "updated_at", "url", "symbols",
        "source", "content",
    ]  # fmt: skip
    assert first["created_at"].startswith("2024-01-01T")

    market = load_market(tmp_path / "bars")
    assert market.kind == "bars" and market.symbols == SYMBOLS
    assert market.frame.height == 524
    bars = pl.read_parquet(tmp_path / "bars" / "AAPL.parquet")
    assert bars.columns == ["date", "symbol", "open", "high", "low", "close", "volume"]
    assert bars["date"].min() == dt.date(2024, 1, 1) and bars["date"].max() == dt.date(2024, 12, 31)
    assert not list(tmp_path.rglob("*.tmp"))


def test_trades(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    summary = run(
        server, tmp_path, kind="trades", start=dt.date(2024, 3, 4), end=dt.date(2024, 3, 8)
    )
    assert summary.rows == {"news": 10, "trades/AAPL": 15, "trades/MSFT": 15}
    market = load_market(tmp_path / "trades")
    assert market.kind == "trades" and market.symbols == SYMBOLS
    trades = pl.read_parquet(tmp_path / "trades" / "AAPL.parquet")
    assert trades.schema["ts"] == pl.Int64
    assert (trades["ts"] % 1000 != 0).any()  # nanoseconds kept
    first = dt.datetime(2024, 3, 4, 14, 30, tzinfo=dt.UTC).timestamp() * 1e9
    assert first <= trades["ts"][0] < first + 1e9


def test_rerun_skips_finished_parts(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    run(server, tmp_path)
    server.reset()
    summary = run(server, tmp_path)
    assert server.count() == 0
    assert summary.downloaded == [] and summary.skipped == ["news", "bars/AAPL", "bars/MSFT"]
    assert summary.rows["bars/AAPL"] == 262


def test_resumes_after_a_failure_part_way(tmp_path: Path) -> None:
    with AlpacaDataStandIn(KEY, SECRET, fail_symbols={"MSFT": 403}) as server:
        with pytest.raises(DataError, match=r"bars for MSFT.*HTTP 403"):
            run(server, tmp_path)
        assert (tmp_path / "bars" / "AAPL.parquet").exists()
        assert not (tmp_path / "bars" / "MSFT.parquet").exists()
        server.fail_symbols.clear()
        server.reset()
        summary = run(server, tmp_path)
    assert summary.skipped == ["news", "bars/AAPL"] and summary.downloaded == ["bars/MSFT"]
    assert server.count(NEWS) == 0 and server.count(BARS, "AAPL") == 0
    assert server.count(BARS, "MSFT") == 1


def test_changed_request_redoes_parts(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    run(server, tmp_path)
    server.reset()
    summary = run(server, tmp_path, end=dt.date(2024, 6, 30))
    assert summary.downloaded == ["news", "bars/AAPL", "bars/MSFT"]
    assert server.count(NEWS) > 0 and server.count(BARS) > 0
    assert pl.read_parquet(tmp_path / "bars" / "AAPL.parquet")["date"].max() == dt.date(2024, 6, 28)

    # A new symbol: its bars and the news (which covers all symbols) are redone, the rest kept.
    server.reset()
    summary = run(server, tmp_path, end=dt.date(2024, 6, 30), symbols=["AAPL", "MSFT", "NVDA"])
    assert summary.downloaded == ["news", "bars/NVDA"]
    assert summary.skipped == ["bars/AAPL", "bars/MSFT"]
    assert server.count(BARS, "AAPL") == 0


def test_a_deleted_file_is_fetched_again(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    run(server, tmp_path)
    (tmp_path / "bars" / "MSFT.parquet").unlink()
    server.reset()
    assert run(server, tmp_path).downloaded == ["bars/MSFT"]


def test_bad_keys(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        run(server, tmp_path, secret_key="wrong")
    message = str(err.value)
    assert "HTTP 401" in message and "news" in message
    assert "APCA_API_KEY_ID" in message and "APCA_API_SECRET_KEY" in message
    assert "wrong" not in message
    assert not (tmp_path / "news.jsonl").exists()


def test_missing_keys(server: AlpacaDataStandIn, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="set APCA_API_SECRET_KEY"):
        run(server, tmp_path, secret_key="")
    with pytest.raises(DataError, match="set APCA_API_KEY_ID and APCA_API_SECRET_KEY"):
        keys_from_env({})
    with pytest.raises(DataError, match="set APCA_API_KEY_ID in"):
        keys_from_env({"APCA_API_SECRET_KEY": "s"})
    assert keys_from_env({"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s"}) == ("k", "s")
    assert server.count() == 0


def test_unreachable_server(tmp_path: Path) -> None:
    with AlpacaDataStandIn(KEY, SECRET) as server:
        url = server.url
    with pytest.raises(DataError, match="cannot reach"):
        download(SYMBOLS, START, END, tmp_path, api_key=KEY, secret_key=SECRET, url_override=url)


def test_stand_in_answers_parse_as_alpaca_models(server: AlpacaDataStandIn) -> None:
    """The stand-in's shapes pass alpaca-py's own models (the downloader reads raw data)."""
    from alpaca.data.historical.news import NewsClient
    from alpaca.data.historical.stock import StockHistoricalDataClient
    from alpaca.data.requests import NewsRequest, StockBarsRequest, StockTradesRequest
    from alpaca.data.timeframe import TimeFrame

    t0, t1 = dt.datetime(2024, 3, 4), dt.datetime(2024, 3, 9)
    news = NewsClient(KEY, SECRET, url_override=server.url).get_news(
        NewsRequest(symbols="AAPL,MSFT", start=t0, end=t1)
    )
    assert isinstance(news, NewsSet) and len(news.data["news"]) == 10
    stock = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    bars = stock.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Day, start=t0, end=t1)
    )
    assert isinstance(bars, BarSet) and len(bars.data["MSFT"]) == 5
    trades = stock.get_stock_trades(StockTradesRequest(symbol_or_symbols=SYMBOLS, start=t0, end=t1))
    assert isinstance(trades, TradeSet) and len(trades.data["AAPL"]) == 15
