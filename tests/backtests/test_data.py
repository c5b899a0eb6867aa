"""Loading news and market data: real files work, bad files get errors naming what to fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from backtests.data import between, load_market, load_news, unknown_symbols
from backtests.errors import DataError
from engine.universe import load_universe
from tests.conftest import ROOT, shared_path


def test_real_stocknet_news_and_daily_bars_load() -> None:
    news = load_news(shared_path("data", "stocknet", "news.jsonl"))
    assert news.height == 10830
    assert news["ts_event"].is_sorted()
    assert news["symbols"][0].to_list() == ["FB"]
    market = load_market(shared_path("data", "stocknet", "prices"))
    assert market.kind == "bars"
    assert len(market.symbols) == 88 and "BRK.A" in market.symbols  # from BRK-A.csv
    assert {"open", "close", "adj_close"} <= set(market.frame.columns)


def test_alpaca_news_objects_load_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(
        '{"id": 123, "headline": "Cisco to buy Splunk", "summary": "s", "author": "a", "url": "u", '
        '"created_at": "2023-09-21T11:00:00Z", "updated_at": "2023-09-21T11:00:00Z", '
        '"symbols": ["CSCO", "SPLK"], "source": "benzinga", "content": "", "images": []}\n'
    )
    news = load_news(path)
    assert news.row(0, named=True)["id"] == "123"
    assert (
        news["ts_event"][0] == int(dt.datetime(2023, 9, 21, 11, tzinfo=dt.UTC).timestamp()) * 10**9
    )


def test_missing_column_names_the_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("ts,symbol,price\n2024-01-02T14:30:00Z,AAPL,190.0\n")
    with pytest.raises(DataError, match=r"trades.csv: missing column\(s\) size"):
        load_market(path)


def test_time_going_backwards_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        "ts,symbol,price,size\n"
        "2024-01-02T14:30:01Z,AAPL,190.0,10\n"
        "2024-01-02T14:30:00Z,AAPL,190.1,10\n"
    )
    with pytest.raises(DataError, match=r"row 2 \(AAPL\): time goes backwards"):
        load_market(path)


def test_a_bad_timestamp_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text("headline,created_at\nA,2024-01-02T10:00:00Z\nB,yesterday\n")
    with pytest.raises(DataError, match=r"column 'created_at', row 2: 'yesterday'"):
        load_news(path)


def test_a_broken_json_line_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text('{"headline": "A", "created_at": "2024-01-02"}\n{oops\n')
    with pytest.raises(DataError, match=r"news.jsonl:2: not JSON"):
        load_news(path)


def test_an_empty_date_range_says_so() -> None:
    frame = pl.DataFrame({"ts": [int(dt.datetime(2024, 1, 2, tzinfo=dt.UTC).timestamp() * 1e9)]})
    assert between(frame, "ts", dt.date(2024, 1, 1), dt.date(2024, 1, 3), "trades").height == 1
    with pytest.raises(DataError, match="no trades between 2025-01-01 to the end"):
        between(frame, "ts", dt.date(2025, 1, 1), None, "trades")


def test_unknown_symbols_are_counted_not_fatal() -> None:
    universe = load_universe(ROOT / "configs" / "universe")
    counts = unknown_symbols(pl.Series(["AAPL", "ZZZZ", "ZZZZ", "FB", "QQQQ"]), universe)
    assert counts == {"ZZZZ": 2, "QQQQ": 1}


def test_integer_nanosecond_timestamps_keep_every_digit(tmp_path: Path) -> None:
    ts = 1_704_292_213_707_099_137  # not representable exactly as a float64
    pl.DataFrame({"ts": [ts], "symbol": ["AAPL"], "price": [1.0], "size": [1]}).write_parquet(
        tmp_path / "t.parquet"
    )
    assert load_market(tmp_path / "t.parquet").frame["ts"][0] == ts
    seconds = pl.DataFrame({"ts": [1_704_292_213], "symbol": ["A"], "price": [1.0], "size": [1]})
    seconds.write_parquet(tmp_path / "s.parquet")
    assert load_market(tmp_path / "s.parquet").frame["ts"][0] == 1_704_292_213 * 10**9


def test_a_value_that_is_not_a_number_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        "ts,symbol,price,size\n"
        "2024-01-02T14:30:00Z,AAPL,190.0,10\n"
        "2024-01-02T14:30:01Z,AAPL,,10\n"  # missing: allowed (the replay skips and counts it)
        "2024-01-02T14:30:02Z,AAPL,19O.5,10\n"
    )
    with pytest.raises(DataError, match=r"column 'price', row 3: '19O.5' is not a number"):
        load_market(path)
    bars = tmp_path / "bars.csv"
    bars.write_text("date,symbol,open,high,low,close,volume\n2024-01-02,AAPL,1,2,0.5,1.5,n/a\n")
    with pytest.raises(DataError, match=r"column 'volume', row 1: 'n/a' is not a number"):
        load_market(bars)


def test_a_file_of_neither_trades_nor_bars_says_what_each_needs(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text("ts,symbol,size\n2024-01-02T14:30:00Z,AAPL,10\n")
    with pytest.raises(DataError, match=r"neither trades nor bars .*trades need ts, symbol, price"):
        load_market(path)
