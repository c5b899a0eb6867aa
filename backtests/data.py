"""Load historical news and market data with polars, with errors that say what to fix.

News: JSON lines, CSV or Parquet in Alpaca's news shape (`headline` and `created_at` needed;
`id`, `summary`, `symbols`, `source` taken when present). Market data: trades
(`ts, symbol, price, size`) or bars (`ts|date, symbol, open, high, low, close, volume`, with
`adj_close` used for returns where present), in one file or in a folder of per-symbol files
named `SYMBOL.csv|parquet` (the symbol taken from the name).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from backtests.errors import DataError
from engine.universe import Universe

TRADE_COLUMNS = ("ts", "symbol", "price", "size")
BAR_COLUMNS = ("symbol", "open", "high", "low", "close", "volume")
_SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson", ".json")


@dataclass(slots=True)
class MarketData:
    """Trades or bars, sorted by (symbol, ts); `ts` is int64 ns UTC (a bar's ts is its date)."""

    kind: str  # "trades" or "bars"
    frame: pl.DataFrame

    @property
    def symbols(self) -> list[str]:
        """Symbols present, sorted."""
        return sorted(self.frame["symbol"].unique().to_list())


@dataclass(slots=True)
class TradeTape:
    """Trades in time order as lean arrays: int64 ns, int32 symbol slot, float64 price.

    Build it once with `trade_tape` and pass it to `run_backtest` in place of the frame, so a
    run (or many) does not sort and map 10 million rows again.
    """

    ts: np.ndarray
    slot: np.ndarray
    price: np.ndarray
    symbols: list[str]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def trade_tape(trades: pl.DataFrame) -> TradeTape:
    """Sort trades (`ts, symbol, price`) by time, ties in row order, and map symbols to slots."""
    symbols = sorted(trades["symbol"].unique().to_list())  # a symbol's slot: its index here
    slot = trades["symbol"].cast(pl.Enum(symbols)).to_physical().to_numpy().astype(np.int32)
    ts = trades["ts"].cast(pl.Int64).to_numpy()
    order = _time_order(ts)
    return TradeTape(
        ts=ts[order],
        slot=slot[order],
        price=trades["price"].cast(pl.Float64).to_numpy()[order],
        symbols=symbols,
    )


def _time_order(ts: np.ndarray) -> np.ndarray:
    """Stable order by time: polars sorts on all cores, 32-bit indices."""
    keys = pl.DataFrame({"ts": ts})
    order: np.ndarray = (
        keys.select(pl.arg_sort_by("ts", maintain_order=True)).to_series().to_numpy()
    )
    return order


def _in_time_order(ts: np.ndarray, slot: np.ndarray, block: int = 1 << 20) -> bool:
    """True if rows are sorted by (ts, slot); checked in blocks, so temporaries stay small."""
    for lo in range(0, max(0, ts.shape[0] - 1), block):
        hi = min(lo + block + 1, ts.shape[0])
        dt, step = np.diff(ts[lo:hi]), np.diff(slot[lo:hi])
        if not bool(np.all((dt > 0) | ((dt == 0) & (step >= 0)))):
            return False
    return True


def market_kind(path: Path) -> str:
    """ "trades" or "bars", from the columns of the (first) file, without reading the rows."""
    file = _market_files(Path(path))[0][0]
    if file.suffix.lower() == ".parquet":
        try:
            columns = list(pl.read_parquet_schema(file))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(f"{file}: cannot read it: {exc}") from None
    else:
        columns = _read_table(file).columns
    return "trades" if "price" in columns else "bars"


def load_tape(path: Path) -> TradeTape:
    """Read trades (as `load_market` does, same checks) straight into a `TradeTape`.

    No frame of 10 million symbol strings is kept: symbols become slots as they are read, and
    the time order is the one `trade_tape(load_market(path).frame)` gives (ties in time by
    symbol, then by row).
    """
    market = _read_market(Path(path), lean=True)
    if market.kind != "trades":
        raise DataError(f"{path}: holds bars, not trades; use load_market and bars_as_trades")
    frame = market.frame
    symbols = sorted(frame["symbol"].unique().to_list())
    slot = frame["symbol"].cast(pl.Enum(symbols)).to_physical().to_numpy().astype(np.int32)
    ts = frame["ts"].to_numpy()
    price = frame["price"].to_numpy()
    del frame, market
    if _in_time_order(
        ts, slot
    ):  # a file in time order (ties by symbol) needs no sort and no second copy
        return TradeTape(ts=ts, slot=slot, price=price, symbols=symbols)
    order = np.lexsort((slot, ts))  # by time, then symbol, then row; low on memory
    return TradeTape(ts=ts[order], slot=slot[order], price=price[order], symbols=symbols)


def _read_table(path: Path, skip: tuple[str, ...] = ()) -> pl.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            if skip:  # columns the caller does not need are never decoded
                names = [c for c in pl.read_parquet_schema(path) if c not in skip]
                return pl.read_parquet(path, columns=names)
            return pl.read_parquet(path)
        if suffix == ".csv":
            return pl.read_csv(
                path, null_values=["null", "NULL", "", "NaN"], infer_schema_length=10_000
            )
        if suffix in (".jsonl", ".ndjson", ".json"):
            return _read_json_lines(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: cannot read it: {exc}") from None
    raise DataError(f"{path}: unknown file type {suffix!r}; use .parquet, .csv or .jsonl")


def _read_json_lines(path: Path) -> pl.DataFrame:
    rows = []
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{n}: expected a JSON object per line")
        rows.append(obj)
    if not rows:
        raise DataError(f"{path}: no rows")
    return pl.from_dicts(rows, infer_schema_length=None)


def _require(frame: pl.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (it has: {', '.join(frame.columns)})"
        )


def _to_ns(frame: pl.DataFrame, column: str, path: Path) -> pl.Series:
    """Column as int64 ns UTC from datetimes, dates, ISO text or epoch numbers."""
    s = frame[column]
    if isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is not None:
            s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return s.cast(pl.Datetime("ns")).cast(pl.Int64)
    if s.dtype == pl.Date:
        return s.cast(pl.Datetime("ns")).cast(pl.Int64)
    if s.dtype.is_integer():
        # whole numbers stay integers: int64 nanoseconds do not survive a trip through float64
        values = s.cast(pl.Int64)
        hi, lo = values.max(), values.min()
        top = max(abs(int(hi)), abs(int(lo))) if hi is not None and lo is not None else 0  # type: ignore[arg-type]
        factor = 1 if top > 10**17 else 10**3 if top > 10**14 else 10**6 if top > 10**11 else 10**9
        return values if factor == 1 else values * factor
    if s.dtype.is_float():
        x = s.cast(pl.Float64)
        scale = (
            pl.when(x > 1e17)
            .then(1.0)
            .when(x > 1e14)
            .then(1e3)
            .when(x > 1e11)
            .then(1e6)
            .otherwise(1e9)
        )
        return frame.select((x * scale).cast(pl.Int64).alias(column)).to_series()
    if s.dtype == pl.String:
        parsed = s.str.to_datetime(time_zone="UTC", strict=False, time_unit="ns")
        bad = parsed.is_null() & s.is_not_null()
        if bad.any():
            row = int(bad.arg_true()[0])
            raise DataError(
                f"{path}: column {column!r}, row {row + 1}: {s[row]!r} is not a date/time (use ISO 8601)"
            )
        return parsed.dt.replace_time_zone(None).cast(pl.Int64)
    raise DataError(f"{path}: column {column!r} has type {s.dtype}, not a date/time")


def load_news(path: Path) -> pl.DataFrame:
    """Read news; return `id, headline, summary, symbols, source, ts_event` sorted by ts_event."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    frame = _read_table(path)
    _require(frame, path, ("headline",))
    time_column = "created_at" if "created_at" in frame.columns else "ts_event"
    if time_column not in frame.columns:
        raise DataError(
            f"{path}: missing column created_at (or ts_event): when each headline came out"
        )
    ts = _to_ns(frame, time_column, path)
    n = frame.height
    symbols = (
        frame["symbols"]
        if "symbols" in frame.columns
        else pl.Series([[]] * n, dtype=pl.List(pl.String))
    )
    if symbols.dtype == pl.String:
        symbols = symbols.str.replace_all(" ", "").str.split(",")
    out = pl.DataFrame(
        {
            "id": frame["id"].cast(pl.String)
            if "id" in frame.columns
            else pl.Series([str(i) for i in range(n)]),
            "headline": frame["headline"].cast(pl.String).fill_null(""),
            "summary": frame["summary"].cast(pl.String).fill_null("")
            if "summary" in frame.columns
            else pl.Series([""] * n),
            "symbols": symbols.cast(pl.List(pl.String)),
            "source": frame["source"].cast(pl.String).fill_null("")
            if "source" in frame.columns
            else pl.Series([""] * n),
            "ts_event": ts,
        }
    )
    return out.sort("ts_event", maintain_order=True)


def _market_files(path: Path) -> list[tuple[Path, str | None]]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".parquet"))
        if not files:
            raise DataError(f"{path}: no SYMBOL.csv or SYMBOL.parquet files in this folder")
        return [(p, p.stem.upper().replace("-", ".")) for p in files]
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    return [(path, None)]


def load_market(path: Path) -> MarketData:
    """Read trades or bars from a file or a folder of per-symbol files; check order and values."""
    market = _read_market(Path(path))
    return MarketData(market.kind, _sort_by_symbol_time(market.frame))


def _read_market(path: Path, lean: bool = False) -> MarketData:
    """Read and check market data, in file order; `lean`: trades without their sizes."""
    frames = []
    kind = ""
    for file, symbol in _market_files(path):
        frame = _read_table(file, ("size",) if lean else ())
        if symbol is not None and "symbol" not in frame.columns:
            frame = frame.with_columns(pl.lit(symbol).alias("symbol"))
        this_kind = "trades" if "price" in frame.columns else "bars"
        if this_kind == "bars" and not set(BAR_COLUMNS[1:]) & set(frame.columns):
            raise DataError(
                f"{file}: neither trades nor bars (it has: {', '.join(frame.columns)}): trades "
                f"need {', '.join(TRADE_COLUMNS)}; daily bars need ts or date, "
                f"{', '.join(BAR_COLUMNS)}"
            )
        if kind and this_kind != kind:
            raise DataError(
                f"{file}: holds {this_kind} but earlier files hold {kind}: use one kind"
            )
        kind = this_kind
        frames.append(_normalise_market(frame, file, kind, lean))
    data = pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
    return MarketData(kind, data)


def _symbol_codes(symbol: pl.Series) -> np.ndarray | None:
    """Each row's index among the sorted distinct symbols (None when a symbol is missing)."""
    if symbol.null_count():
        return None
    names = sorted(symbol.unique().to_list())
    return symbol.cast(pl.Enum(names)).to_physical().to_numpy()


def _sort_by_symbol_time(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort by (symbol, ts), ties in row order; sorting integer codes, not 10M strings."""
    codes = _symbol_codes(frame["symbol"])
    if codes is None:
        return frame.sort(["symbol", "ts"], maintain_order=True)
    ts = frame["ts"].to_numpy()
    step, dt = np.diff(codes.astype(np.int64)), np.diff(ts)
    if bool(np.all((step > 0) | ((step == 0) & (dt >= 0)))):
        return frame  # already in order (a per-symbol folder, or a sorted file)
    del step, dt
    if bool(np.all(np.diff(ts) >= 0)):  # in time order: a stable sort by symbol is enough
        order = np.argsort(codes.astype(np.uint16) if codes.max() < 2**16 else codes, kind="stable")
    else:
        order = np.lexsort((ts, codes))
    return frame[order]


def _normal_symbols(symbol: pl.Series) -> pl.Series:
    """Upper case, '-' as '.', computed once per distinct symbol."""
    symbol = symbol.cast(pl.String)
    names = symbol.unique()
    if names.null_count():
        return symbol.str.to_uppercase().str.replace_all("-", ".")
    normal = names.str.to_uppercase().str.replace_all("-", ".")
    if bool((normal == names).all()):
        return symbol
    return symbol.replace_strict(dict(zip(names.to_list(), normal.to_list(), strict=True)))


def _normalise_market(
    frame: pl.DataFrame, file: Path, kind: str, lean: bool = False
) -> pl.DataFrame:
    if kind == "trades":
        _require(frame, file, TRADE_COLUMNS[:3] if lean else TRADE_COLUMNS)
        ts = _to_ns(frame, "ts", file)
        columns = {
            "ts": ts,
            "symbol": _normal_symbols(frame["symbol"]),
            "price": _numbers(frame, "price", file),
        }
        if not lean:
            columns["size"] = _numbers(frame, "size", file)
        out = pl.DataFrame(columns)
    else:
        _require(frame, file, BAR_COLUMNS)
        time_column = "ts" if "ts" in frame.columns else "date"
        if time_column not in frame.columns:
            raise DataError(f"{file}: missing column ts or date: when each bar starts")
        columns = {
            "ts": _to_ns(frame, time_column, file),
            "symbol": _normal_symbols(frame["symbol"]),
        }
        for c in ("open", "high", "low", "close", "volume", "adj_close"):
            if c in frame.columns:
                columns[c] = _numbers(frame, c, file)
        out = pl.DataFrame(columns)
    _check_order(out, file)
    return out


def _numbers(frame: pl.DataFrame, column: str, file: Path) -> pl.Series:
    """A column as float64; a value that is not a number (text such as "abc") is an error
    that names the row. Missing values stay missing (the replay skips such trades and counts
    them)."""
    s = frame[column]
    out = s.cast(pl.Float64, strict=False)
    if s.dtype.is_numeric() or out.null_count() == s.null_count():
        return out
    row = int((out.is_null() & s.is_not_null()).arg_max() or 0)
    raise DataError(f"{file}: column {column!r}, row {row + 1}: {s[row]!r} is not a number")


def _check_order(frame: pl.DataFrame, file: Path) -> None:
    """Timestamps must not go backwards within a symbol (a sign of a mangled file)."""
    codes = _symbol_codes(frame["symbol"])
    if codes is not None:  # integers, not string comparisons over every row
        ts = frame["ts"].to_numpy()
        bad = np.flatnonzero((ts[1:] < ts[:-1]) & (codes[1:] == codes[:-1]))
        if bad.shape[0] == 0:
            return
        row = int(bad[0]) + 1
        raise DataError(
            f"{file}: row {row + 1} ({frame['symbol'][row]}): time goes backwards; "
            "sort the file by symbol and time"
        )
    back = frame.with_row_index("row").filter(
        (pl.col("ts") < pl.col("ts").shift(1)) & (pl.col("symbol") == pl.col("symbol").shift(1))
    )
    if back.height:
        first = back.row(0, named=True)
        raise DataError(
            f"{file}: row {first['row'] + 1} ({first['symbol']}): time goes backwards; "
            "sort the file by symbol and time"
        )


def between(
    frame: pl.DataFrame, column: str, start: dt.date | None, end: dt.date | None, what: str
) -> pl.DataFrame:
    """Rows whose `column` (ns) falls in [start, end] (whole days); error if none are left."""
    lo = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp() * 1e9) if start else None
    hi = int(dt.datetime.combine(end, dt.time.max, dt.UTC).timestamp() * 1e9) if end else None
    out = frame
    if lo is not None:
        out = out.filter(pl.col(column) >= lo)
    if hi is not None:
        out = out.filter(pl.col(column) <= hi)
    if out.height == 0:
        span = f"{start or 'the start'} to {end or 'the end'}"
        raise DataError(f"no {what} between {span}: check --from/--to against the data's dates")
    return out


def unknown_symbols(symbols: pl.Series, universe: Universe) -> dict[str, int]:
    """Count the symbols the universe does not know (each is reported, none is fatal)."""
    counts = symbols.value_counts()
    out: dict[str, int] = {}
    for sym, n in counts.iter_rows():
        if sym is not None and universe.find(str(sym)) is None:
            out[str(sym)] = int(n)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


SESSION_OPEN_S = 14 * 3600 + 30 * 60  # 09:30 New York in winter, as UTC
SESSION_CLOSE_S = 21 * 3600


def bars_as_trades(bars: pl.DataFrame) -> pl.DataFrame:
    """Daily bars as two trades a day: the open at 14:30 UTC and the close at 21:00 UTC.

    Prices are split- and dividend-adjusted with `adj_close / close` where `adj_close` is
    present, so returns across days are total returns. An order then fills at the next bar's
    open (or the same day's close if decided during the session), and a headline after the
    close is first traded at the next open.
    """
    factor = (pl.col("adj_close") / pl.col("close")) if "adj_close" in bars.columns else pl.lit(1.0)
    day = pl.col("ts") - pl.col("ts") % (86_400 * 10**9)
    clean = bars.filter(
        pl.col("open").is_finite() & pl.col("close").is_finite() & (pl.col("close") > 0)
    )
    clean = clean.with_columns(factor.fill_null(1.0).fill_nan(1.0).alias("_f"), day.alias("_day"))
    opens = clean.select(
        (pl.col("_day") + SESSION_OPEN_S * 10**9).alias("ts"), "symbol",
        (pl.col("open") * pl.col("_f")).alias("price"), pl.lit(0.0).alias("size"),
    )  # fmt: skip
    closes = clean.select(
        (pl.col("_day") + SESSION_CLOSE_S * 10**9).alias("ts"), "symbol",
        (pl.col("close") * pl.col("_f")).alias("price"), pl.col("volume").fill_null(0.0).alias("size"),
    )  # fmt: skip
    return pl.concat([opens, closes]).sort(["ts", "symbol"])
