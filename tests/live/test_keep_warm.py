"""Keeping the headline path warm: rehearsals leave no trace anywhere and never reach a broker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from engine.clock import SimClock
from engine.journal import Journal
from engine.live.warm import CANNED_PAYLOAD, Rehearsal
from engine.market import MarketState
from engine.news import NewsItem
from engine.orders import OrderIntent
from engine.risk import RiskSettings
from engine.runtime import RiskLimits
from engine.scoring import Scorer, Shock
from engine.strategy import Strategy, make_strategy
from tests.live.support import until
from tests.live.test_node import META, PRICES, running


def journal_counts(journal: Journal) -> dict[str, int]:
    return {
        table: journal.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
        for table in ("news", "orders", "shocks", "fills")
    }


def test_a_rolled_back_rehearsal_leaves_the_journal_as_it_was(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    item = NewsItem(id="n1", headline="Meta up", ts_event=1, ts_init=2)
    intent = OrderIntent(
        strategy_id="s", news_id="n1", symbol="META", qty=1.0, leg="entry", ts_init=2
    )
    with journal.rehearsal() as ready:
        assert ready
        assert journal.record_news(item)
        assert journal.record_intent(intent, 2)
    assert journal_counts(journal) == {"news": 0, "orders": 0, "shocks": 0, "fills": 0}
    # the same headline and order are still new to the journal afterwards
    assert journal.record_news(item)
    assert journal.record_intent(intent, 2)
    journal.close()
    reopened = Journal(tmp_path / "journal.sqlite")
    assert journal_counts(reopened)["news"] == 1


def test_no_rehearsal_inside_an_event_transaction(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    journal.begin()
    journal.record_news(NewsItem(id="real", headline="x", ts_event=1, ts_init=2))
    with journal.rehearsal() as ready:
        assert not ready
    journal.flush()  # the event's headline is committed as usual
    assert journal.seen_news("real")


def test_scorer_rehearse_neither_reads_nor_feeds_novelty(scorer: Scorer) -> None:
    item = NewsItem(id="a", headline=META, ts_event=10**18, ts_init=10**18)
    scorer.reset_novelty()
    first = scorer.score(item)
    scorer.reset_novelty()
    for _ in range(3):
        rehearsed = scorer.rehearse(item)
    assert rehearsed.legs == first.legs  # scored as new: no novelty damping on a rehearsal
    again = scorer.score(item)
    assert again.novelty == first.novelty == 1.0  # rehearsals left nothing to repeat
    assert scorer.score(item).novelty < 1.0  # a real repeat is still damped


class _Recorder(Strategy):
    rehearsal_safe = True
    seen: ClassVar[list[str]] = []

    def on_shock(self, shock: Shock) -> None:
        _Recorder.seen.append(shock.news_id)
        self.ctx.set_timer("later", self.ctx.clock.now_ns() + 1)
        self.ctx.submit(shock.news_id, "META", 1.0, "entry")
        self.ctx.submit(shock.news_id, "CRWV", -1.0, "entry")  # never reached: first order ends it


class _Unsafe(Strategy):
    seen: ClassVar[list[str]] = []

    def on_shock(self, shock: Shock) -> None:
        _Unsafe.seen.append(shock.news_id)


class _Broken(Strategy):
    rehearsal_safe = True
    calls = 0

    def on_shock(self, shock: Shock) -> None:
        _Broken.calls += 1
        raise RuntimeError("boom")


def rehearsal_for(tmp_path: Path, scorer: Scorer, strategies: list[Strategy]) -> Rehearsal:
    market = MarketState(list(PRICES), ["x"] * len(PRICES))
    clock = SimClock(10**18)  # a replay's clock: a rehearsed strategy's timers must not land on it
    rehearsal = Rehearsal(
        scorer, Journal(tmp_path / "journal.sqlite"), market, clock, strategies, RiskLimits(),
        RiskSettings(market_hours="off"),
    )  # fmt: skip
    n = len(PRICES)
    market.on_trades(np.arange(n), np.full(n, 10**18, np.int64), np.array(list(PRICES.values())))
    return rehearsal


def test_rehearsal_runs_safe_strategies_only_up_to_their_first_order(
    tmp_path: Path, scorer: Scorer
) -> None:
    _Recorder.seen, _Unsafe.seen = [], []
    real = _Recorder(_Recorder.config_class())
    twin = _Recorder(_Recorder.config_class(strategy_id="twin"))  # same class, another config
    rehearsal = rehearsal_for(tmp_path, scorer, [real, _Unsafe(_Unsafe.config_class()), twin])
    for _ in range(3):
        stages = 0
        for ok in rehearsal.stages():
            assert ok
            stages += 1
            # the loop runs between stages: no savepoint may be left open across one
            assert not rehearsal.journal._db.in_transaction
        assert stages == 4  # between journal, scoring, touching the tables and two strategies
    assert _Recorder.seen == ["rehearsal"] * 6  # both copies, every time
    assert _Unsafe.seen == []  # not declared rehearsal_safe: never run
    assert rehearsal.orders == 6  # each reaches its first order; the second never comes
    assert isinstance(rehearsal.clock, object) and not isinstance(rehearsal.clock, SimClock)
    assert journal_counts(rehearsal.journal) == {"news": 0, "orders": 0, "shocks": 0, "fills": 0}
    with pytest.raises(RuntimeError):  # fresh copies ran; the strategy given was never bound
        _ = real.ctx


def test_a_strategy_failing_in_rehearsal_is_dropped_from_it_once(
    tmp_path: Path, scorer: Scorer, caplog: pytest.LogCaptureFixture
) -> None:
    _Broken.calls = 0
    rehearsal = rehearsal_for(tmp_path, scorer, [_Broken(_Broken.config_class())])
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            rehearsal.run()
    assert _Broken.calls == 1
    assert sum("no longer rehearsed" in r.getMessage() for r in caplog.records) == 1
    assert rehearsal.runs == 5  # the scorer and journal parts go on


def test_canned_payload_decodes_and_trades_with_shock_hedge(scorer: Scorer) -> None:
    from engine.feeds.decode import decode_news

    item = decode_news(CANNED_PAYLOAD, 1_780_000_000 * 10**9)  # 2026: Meta trades as META
    legs = {leg.symbol: leg.score for leg in scorer.rehearse(item).legs}
    assert legs["META"] > 0 and legs["CRWV"] < 0  # it walks subject and spillover stages
    assert type(make_strategy("shock_hedge")).rehearsal_safe


@pytest.mark.asyncio
async def test_the_daemon_rehearses_while_idle_and_keeps_nothing(
    tmp_path: Path, scorer: Scorer
) -> None:
    # rehearsals must not use up the real per-minute order limit either
    overrides: dict[str, Any] = {
        "daemon": {"keep_warm_ms": 1.0},
        "risk": {"max_orders_per_minute": 4},
    }
    async with running(tmp_path, scorer, **overrides) as (node, feed, broker):
        feed.push_trades(PRICES)
        await until(lambda: node.rehearsal.runs >= 20, what="rehearsals while idle")
        assert node.rehearsal.orders >= 10  # shock_hedge, up to its first order (once priced)
        assert node.orders == {} and broker.submissions == {}
        assert node.counters.news == node.counters.orders_sent == 0
        assert node.engine.shocks == [] and node.engine.intents == []
        assert node.clock.now_ns() > 0 and node.engine.next_timer_ns() is None
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4, what="the real basket")
        shown = node.state()["rehearsals"]
        assert shown["runs"] >= 20 and shown["strategies"] == ["rehearsal:0:shock_hedge"]
        ids = {o.news_id for o in node.orders.values()}
        assert ids == {"meta-1"}
        assert {i.news_id for i in node.engine.intents} == {"meta-1"}
        assert {s.news_id for s in node.engine.shocks} == {"meta-1"}
    journal = Journal(tmp_path / "journal.sqlite")
    assert [r["id"] for r in journal.rows("SELECT id FROM news")] == ["meta-1"]
    assert {r["news_id"] for r in journal.rows("SELECT news_id FROM orders")} == {"meta-1"}


@pytest.mark.asyncio
async def test_keep_warm_off_means_no_rehearsal(tmp_path: Path, scorer: Scorer) -> None:
    async with running(tmp_path, scorer, daemon={"keep_warm_ms": 0}) as (node, feed, _):
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4, what="the basket")
        assert "keep-warm" not in {t.get_name() for t in asyncio.all_tasks()}
        assert node.rehearsal.runs == 0


@pytest.mark.asyncio
async def test_a_failing_rehearsal_stops_rehearsals_not_the_daemon(
    tmp_path: Path,
    scorer: Scorer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def broken_stages() -> Iterator[bool]:
        calls.append(1)
        yield True
        raise OSError("disk I/O error")

    async with running(tmp_path, scorer, daemon={"keep_warm_ms": 1.0}) as (node, feed, _):
        monkeypatch.setattr(node.rehearsal, "stages", broken_stages)
        await until(lambda: "keep-warm" not in {t.get_name() for t in asyncio.all_tasks()},
                    what="the keep-warm task to end")  # fmt: skip
        assert len(calls) == 1
        assert any("a rehearsal failed" in r.getMessage() for r in caplog.records)
        feed.push_trades(PRICES)
        feed.push_news(id="meta-1", headline=META)
        await until(lambda: node.counters.orders_sent >= 4, what="the basket, all the same")


@pytest.mark.asyncio
async def test_a_folded_tick_frame_brings_a_rehearsal_at_once(
    tmp_path: Path, scorer: Scorer
) -> None:
    # every 60 s by the clock, but a frame wakes it: folding one pushes the path out of cache
    async with running(tmp_path, scorer, daemon={"keep_warm_ms": 60_000.0}) as (node, feed, _):
        assert node.rehearsal.runs == 0
        feed.push_trades(PRICES)
        await until(lambda: node.rehearsal.runs == 1, timeout=5, what="a rehearsal after the frame")
        feed.push_trades(PRICES)
        await until(lambda: node.rehearsal.runs == 2, timeout=5, what="one after the next frame")


@pytest.mark.asyncio
async def test_a_replay_does_not_rehearse(tmp_path: Path, scorer: Scorer) -> None:
    from engine.clock import ReplayClock
    from engine.live.node import LiveNode
    from engine.live.sim_broker import SimBroker
    from tests.live.support import QueueFeed
    from tests.live.test_node import settings_for

    settings = settings_for(tmp_path, daemon={"keep_warm_ms": 1.0})
    feed = QueueFeed(ReplayClock())
    node = LiveNode(
        settings, scorer, [(make_strategy("shock_hedge"), 1e6)], [feed],
        SimBroker(settings.broker, feed.clock), Journal(tmp_path / "journal.sqlite"),
        clock=feed.clock,
    )  # fmt: skip
    assert not node.keeps_warm  # played time: no real headline waits on a warm path
    assert node.state()["rehearsals"]["every_ms"] == 0
