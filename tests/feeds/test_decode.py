"""Feed payload decoders: examples, and properties over arbitrary bytes and JSON."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import InputError
from engine.feeds.decode import decode_news, decode_trades, payload_id

NOW = 1_714_700_000_000_000_000
T0 = 1_714_681_864_123_456_789

ALPACA_NEWS = {
    "id": 24843171,
    "headline": "Apple beats estimates; shares rise after hours",
    "summary": "Apple reported quarterly results above expectations.",
    "created_at": "2024-05-02T20:31:04Z",
    "updated_at": "2024-05-02T20:31:05Z",
    "symbols": ["AAPL"],
    "source": "benzinga",
    "author": "Reporter",
    "url": "https://example.com/a",
    "content": "<p>Body</p>",
}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# --- news -------------------------------------------------------------------------------------


def test_an_alpaca_news_object_decodes_with_its_id_and_times() -> None:
    item = decode_news(dumps(ALPACA_NEWS), NOW)
    assert item.id == "24843171"
    assert item.headline == ALPACA_NEWS["headline"]
    assert item.ts_event == 1_714_681_864_000_000_000
    assert item.ts_init == NOW
    assert item.symbols == ["AAPL"]
    assert item.source == "benzinga"
    assert item.summary.startswith("Apple reported")


def test_news_without_an_id_gets_a_stable_id_from_its_payload() -> None:
    payload = dumps({"headline": "Nvidia to buy a startup"})
    a, b = decode_news(payload, NOW), decode_news(payload, NOW + 5)
    assert a.id == b.id == payload_id(payload)
    assert len(a.id) == 32
    assert a.ts_event == NOW  # no created_at: the receipt time
    assert decode_news(dumps({"headline": "Other"}), NOW).id != a.id
    assert decode_news(dumps({"id": None, "headline": "x"}), NOW).id == payload_id(
        dumps({"id": None, "headline": "x"})
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not JSON: empty payload"),
        (b"{not json", "not JSON: "),
        (b"[1, 2]", "news: expected a JSON object, got an array"),
        (b'{"summary": "no headline"}', "news: missing 'headline' (a string)"),
        (b'{"headline": 5}', "news: missing 'headline' (a string)"),
        (b'{"headline": "   "}', "news: 'headline' is empty"),
        (b'{"headline": "h", "id": [1]}', "news: 'id' must be a string or an integer"),
        (b'{"headline": "h", "id": true}', "news: 'id' must be a string or an integer"),
        (b'{"headline": "h", "created_at": "yesterday"}', "news: created_at: 'yesterday' is not"),
        (b'{"headline": "h", "created_at": -1e300}', "news: 'created_at'"),
        (b'{"headline": "h", "created_at": 1e30}', "news: 'created_at' is out of range"),
        (b'{"headline": "h", "symbols": [1]}', "news: 'symbols' must be a list of ticker"),
    ],
)
def test_bad_news_raises_input_error_saying_what_is_wrong(payload: bytes, reason: str) -> None:
    with pytest.raises(InputError) as info:
        decode_news(payload, NOW)
    assert str(info.value).startswith(reason)


# --- trades -----------------------------------------------------------------------------------


def test_a_single_trade_decodes_to_a_batch_of_one() -> None:
    batch = decode_trades(
        dumps({"symbol": "AAPL", "price": 189.5, "size": 100, "ts": 1_714_681_864}), NOW
    )
    assert batch.symbols == ["AAPL"]
    assert batch.ts.dtype == np.int64 and batch.ts.tolist() == [1_714_681_864_000_000_000]
    assert batch.price.dtype == np.float64 and batch.price.tolist() == [189.5]
    assert batch.size.tolist() == [100.0]
    assert batch.ts_init == NOW and len(batch) == 1


def test_a_frame_decodes_to_columns_and_is_stably_sorted_by_time() -> None:
    frame = {
        "symbol": ["C", "A", "B", "D"],
        "price": [3.0, 1.0, 2.0, 4.0],
        "size": [30, 10, 20, 40],
        "ts": [T0 + 5, T0, T0 + 5, T0 + 1],
    }
    batch = decode_trades(dumps(frame), NOW)
    assert batch.symbols == ["A", "D", "C", "B"]
    assert batch.ts.tolist() == [T0, T0 + 1, T0 + 5, T0 + 5]
    assert batch.price.tolist() == [1.0, 4.0, 3.0, 2.0]
    assert batch.size.tolist() == [10.0, 40.0, 30.0, 20.0]


def test_times_may_be_seconds_millis_micros_nanos_or_iso_text() -> None:
    want = 1_714_681_864_500_000_000
    for ts in (
        1_714_681_864.5,
        1_714_681_864_500,
        1_714_681_864_500_000,
        want,
        "2024-05-02T20:31:04.5Z",
        "2024-05-02T22:31:04.5+02:00",
    ):
        batch = decode_trades(dumps({"symbol": "X", "price": 1, "size": 0, "ts": ts}), NOW)
        assert batch.ts.tolist() == [want], ts
    mixed = {"symbol": ["X", "Y"], "price": [1, 2], "size": [1, 2], "ts": [want, "2024-05-02"]}
    assert decode_trades(dumps(mixed), NOW).ts.tolist() == [1_714_608_000_000_000_000, want]


def test_an_empty_frame_is_an_empty_batch() -> None:
    batch = decode_trades(b'{"symbol": [], "price": [], "size": [], "ts": []}', NOW)
    assert len(batch) == 0 and batch.ts.dtype == np.int64


def frame_with(**columns: Any) -> bytes:
    frame: dict[str, Any] = {
        "symbol": ["A", "B", "C", "D"],
        "price": [1.0, 2.0, 3.0, 4.0],
        "size": [1, 2, 3, 4],
        "ts": [T0, T0, T0, T0],
    }
    frame.update(columns)
    return json.dumps(frame).encode()  # orjson stops at 64-bit integers


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not JSON: "),
        (b'"AAPL"', "ticks: Expected `object`, got `str`"),
        (
            frame_with(price=[1.0, 2.0, 3.0]),
            "ticks frame: column 'price' has 3 values, 'symbol' has 4",
        ),
        (frame_with(size=5), "ticks frame: column 'size' is a single value but 'symbol' is a list"),
        (frame_with(price=[1.0, 0.0, 3.0, 4.0]), "ticks frame: column 'price' row 1: 0.0 is not"),
        (frame_with(price=[1.0, 2.0, -3.0, 4.0]), "ticks frame: column 'price' row 2: -3.0"),
        (frame_with(size=[1, 2, 3, -1]), "ticks frame: column 'size' row 3: -1.0 is not a size"),
        (frame_with(price=[1, "2", 3, 4]), "ticks: Expected `float`, got `str` - at `$.price[1]`"),
        (
            b'{"symbol": ["A", "B"], "price": [1, 1e999], "size": [1, 1], "ts": [1, 1]}',
            "ticks: Number out of range - at `$.price[1]`",
        ),
        (frame_with(symbol=["A", "", "C", "D"]), "ticks: Expected `str` of length >= 1"),
        (frame_with(symbol=["A", None, "C", "D"]), "ticks: Expected `str`, got `null`"),
        (frame_with(ts=[T0, T0, True, T0]), "ticks: Expected `int | float | str`, got `bool`"),
        (frame_with(ts=[T0, T0, "soon", T0]), "ticks frame: column 'ts' row 2: 'soon' is not"),
        (frame_with(ts=[T0, -1, T0, T0]), "ticks frame: column 'ts' row 1: -1 is out of range"),
        (
            frame_with(ts=[T0, T0, T0, 2**64]),
            "ticks frame: column 'ts' row 3: 18446744073709551616",
        ),
        (frame_with(ts=[T0, 10**14, T0, T0]), "ticks frame: column 'ts' row 1: 100000000000000 is"),
        (frame_with(ts=[T0, 1e300, T0, T0]), "ticks frame: column 'ts' row 1: 1e+300 is out"),
        (
            b'{"symbol": "A", "price": [1], "size": 1, "ts": 1}',
            "ticks: 'symbol' is a string (one trade) but 'price' is a list",
        ),
        (b'{"symbol": "A", "price": 1, "size": 1}', "ticks: Object missing required field `ts`"),
    ],
)
def test_bad_ticks_raise_input_error_saying_what_and_where(payload: bytes, reason: str) -> None:
    with pytest.raises(InputError) as info:
        decode_trades(payload, NOW)
    assert str(info.value).startswith(reason), str(info.value)


# --- properties -------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def dumps_any(value: Any) -> bytes:
    return json.dumps(value).encode()  # orjson stops at 64-bit integers


def only_input_error(payload: bytes) -> None:
    for decode in (decode_news, decode_trades):
        with contextlib.suppress(InputError):
            decode(payload, NOW)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_nothing_but_input_error(payload: bytes) -> None:
    only_input_error(payload)


@given(json_values)
def test_arbitrary_json_raises_nothing_but_input_error(value: Any) -> None:
    only_input_error(dumps_any(value))


time_values = json_scalars | st.sampled_from(
    ["2024-05-02T20:31:04Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024"]
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "symbol": json_scalars | st.lists(json_scalars, max_size=4),
            "price": json_scalars | st.lists(json_scalars, max_size=4),
            "size": json_scalars | st.lists(json_scalars, max_size=4),
            "ts": time_values | st.lists(time_values, max_size=4),
        },
    )
)
def test_frame_shaped_json_with_arbitrary_values_raises_nothing_but_input_error(
    value: dict[str, Any],
) -> None:
    only_input_error(dumps_any(value))


@given(
    st.fixed_dictionaries(
        {},
        optional={
            key: json_values | time_values
            for key in ("id", "headline", "summary", "created_at", "ts_event", "symbols", "source")
        },
    )
)
def test_news_shaped_json_with_arbitrary_values_raises_nothing_but_input_error(
    value: dict[str, Any],
) -> None:
    only_input_error(dumps_any(value))


trades = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=6),
        st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False),
        st.floats(min_value=0, allow_nan=False, allow_infinity=False),
        st.integers(min_value=10**17 + 1, max_value=2**63 - 1),
    ),
    max_size=50,
)


@given(trades)
def test_valid_frames_round_trip_exactly(rows: list[tuple[str, float, float, int]]) -> None:
    frame = {
        "symbol": [r[0] for r in rows],
        "price": [r[1] for r in rows],
        "size": [r[2] for r in rows],
        "ts": [r[3] for r in rows],
        "exchange": "ignored",
    }
    batch = decode_trades(dumps(frame), NOW)
    want = sorted(rows, key=lambda r: r[3])  # Python's sort is stable, like the decoder's
    assert batch.symbols == [r[0] for r in want]
    assert batch.price.tolist() == [r[1] for r in want]
    assert batch.size.tolist() == [r[2] for r in want]
    assert batch.ts.tolist() == [r[3] for r in want]
    assert batch.ts_init == NOW


@given(st.integers(min_value=10**11 + 1, max_value=(2**63 - 1) // 10**6))
def test_integer_milliseconds_scale_to_exact_nanoseconds(ms: int) -> None:
    batch = decode_trades(dumps({"symbol": "A", "price": 1, "size": 1, "ts": ms}), NOW)
    assert batch.ts.tolist() == [ms * 10**6]


@given(
    st.text(min_size=1).filter(str.strip),
    st.one_of(st.integers(min_value=0, max_value=2**63 - 1), st.text(min_size=1)),
    st.lists(st.text(max_size=5), max_size=3),
)
def test_valid_news_round_trips(headline: str, news_id: int | str, symbols: list[str]) -> None:
    payload = dumps({"id": news_id, "headline": headline, "symbols": symbols, "ts_event": T0})
    item = decode_news(payload, NOW)
    assert (item.id, item.headline, item.symbols, item.ts_event) == (
        str(news_id),
        headline,
        symbols,
        T0,
    )
