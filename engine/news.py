"""News items as they arrive: Alpaca's news shape, decoded and validated at the edge."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import msgspec

from engine.errors import InputError

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class NewsItem(msgspec.Struct, kw_only=True):
    """One headline. `ts_event` is the publisher's time, `ts_init` our receipt time (ns)."""

    id: str
    headline: str
    ts_event: int
    ts_init: int
    summary: str = ""
    symbols: list[str] = msgspec.field(default_factory=list)
    source: str = ""


def parse_time_ns(value: Any, what: str = "created_at") -> int:
    """Parse ISO 8601 text, a datetime, or epoch seconds/ms/ns into int nanoseconds (UTC)."""
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        delta = stamp - EPOCH  # exact to the microsecond, unlike a float timestamp
        ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
        if not -(2**63) <= ns < 2**63:
            raise InputError(f"{what}: {value.isoformat()} is outside 1677-2262")
        return ns
    if isinstance(value, bool):
        raise InputError(f"{what}: expected a time, got {value!r}")
    if isinstance(value, int | float):
        x = float(value)
        if not (-1e19 < x < 1e19):  # NaN, infinities and times beyond int64 nanoseconds
            raise InputError(f"{what}: {value!r} is not a time")
        scale = 1 if x > 1e17 else 1_000 if x > 1e14 else 1_000_000 if x > 1e11 else 10**9
        ns = value * scale if isinstance(value, int) else int(x * scale)  # integers stay exact
        if not -(2**63) <= ns < 2**63:
            raise InputError(f"{what}: {value!r} is outside the range of int64 nanoseconds")
        return int(ns)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            stamp = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"{what}: {value!r} is not an ISO 8601 time") from None
        return parse_time_ns(stamp, what)
    raise InputError(f"{what}: expected a time, got {type(value).__name__}")


def news_from_mapping(obj: Any, *, now_ns: int | None = None, fallback_id: str = "") -> NewsItem:
    """Build a `NewsItem` from a decoded JSON object in Alpaca's news shape (or a subset).

    Needs `headline`; takes `id`, `created_at` (or `ts_event`), `summary`, `symbols`, `source`.
    """
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}")
    headline = obj.get("headline")
    if not isinstance(headline, str):
        raise InputError("missing 'headline' (a string)")
    received = now_ns if now_ns is not None else time.time_ns()
    if obj.get("created_at") is not None:
        ts_event = parse_time_ns(obj["created_at"])
    elif obj.get("ts_event") is not None:
        ts_event = parse_time_ns(obj["ts_event"], "ts_event")
    else:
        ts_event = received
    symbols = obj.get("symbols") or []
    if isinstance(symbols, str):
        symbols = [s for s in symbols.replace(",", " ").split() if s]
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise InputError("'symbols' must be a list of ticker strings")
    summary = obj.get("summary") or ""
    source = obj.get("source") or ""
    raw_id = obj.get("id")
    return NewsItem(
        id=str(raw_id) if raw_id not in (None, "") else fallback_id,
        headline=headline,
        ts_event=ts_event,
        ts_init=received,
        summary=summary if isinstance(summary, str) else "",
        symbols=symbols,
        source=source if isinstance(source, str) else "",
    )
