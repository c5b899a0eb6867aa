"""Live risk checks: order rate, loss halt, stale news, market hours, kill switch."""

from __future__ import annotations

import datetime as dt

from engine.clock import SimClock
from engine.news import NewsItem
from engine.orders import OrderIntent
from engine.risk import RiskManager, RiskSettings

NS = 10**9


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()) * NS


def order(k: int = 0) -> OrderIntent:
    return OrderIntent(strategy_id="s", news_id=f"n{k}", symbol="A", qty=1, leg="entry", ts_init=0)


def test_order_rate_limit_counts_a_sliding_minute() -> None:
    clock = SimClock(at(2024, 1, 2, 15))
    risk = RiskManager(RiskSettings(max_orders_per_minute=2), clock)
    assert risk.check(order(1)) == "" and risk.check(order(2)) == ""
    assert "more than 2 orders" in risk.check(order(3))
    clock.advance_to(clock.now_ns() + 61 * NS)
    assert risk.check(order(4)) == ""


def test_daily_loss_halts_until_resumed_and_the_kill_switch_halts_too() -> None:
    risk = RiskManager(RiskSettings(daily_loss_limit=1000), SimClock(0))
    risk.on_day_pnl(-500)
    assert not risk.halted
    risk.on_day_pnl(-1200)
    assert "daily loss -1,200 beyond the limit 1,000" in risk.check(order())
    risk.resume()
    risk.kill()
    assert risk.check(order()) == "trading halted: kill switch"


def test_stale_news_is_not_traded() -> None:
    risk = RiskManager(RiskSettings(stale_news_seconds=60), SimClock(0))
    assert risk.news_is_stale(NewsItem(id="x", headline="h", ts_event=0, ts_init=61 * NS))
    assert not risk.news_is_stale(NewsItem(id="y", headline="h", ts_event=0, ts_init=59 * NS))


def test_market_hours_from_the_exchange_calendar_skip_or_queue() -> None:
    clock = SimClock(at(2024, 1, 1, 15))  # New Year's Day: NYSE closed
    enforce = RiskManager(RiskSettings(market_hours="enforce"), clock)
    assert enforce.check(order()) == "market closed"
    queue = RiskManager(RiskSettings(market_hours="queue"), clock)
    assert queue.check(order()) == "queued until the market opens"
    assert queue.release_queued() == []
    clock.advance_to(at(2024, 1, 2, 15))  # Tuesday 10:00 New York
    assert [o.news_id for o in queue.release_queued()] == ["n0"]
    assert not queue.market_open(at(2024, 1, 2, 22))  # after the close


def test_forget_drops_counted_and_queued_orders() -> None:
    clock = SimClock(at(2024, 1, 2, 3))  # market closed
    risk = RiskManager(RiskSettings(max_orders_per_minute=1, market_hours="queue"), clock)
    assert risk.check(order(1)) == "queued until the market opens"
    risk.forget()
    clock.advance_to(at(2024, 1, 2, 15))  # open
    assert risk.release_queued() == []
    assert risk.check(order(2)) == ""
    assert "more than 1 orders" in risk.check(order(3))
    risk.forget()
    assert risk.check(order(4)) == ""
