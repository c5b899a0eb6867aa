"""news_momentum trades the subject only; fade trades against an overreaction after its delay."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pytest

from backtests.runner import run_backtest
from engine.scoring import Scorer
from engine.strategy import Strategy, make_strategy
from tests.backtests.test_runner import T0, market, news


def test_news_momentum_buys_the_named_company_only_and_closes_after_the_hold(
    scorer: Scorer,
) -> None:
    strategy = make_strategy("news_momentum", {"hold_seconds": 900, "stop_loss": 0.5})
    result = run_backtest(news(), market(), [strategy], scorer)
    assert {f.symbol for f in result.fills} == {"META"}  # no spillover legs, no hedge
    entry, exit_ = sorted(result.fills, key=lambda f: f.ts_event)
    assert entry.qty > 0 and exit_.qty == -entry.qty
    assert exit_.ts_event >= T0 + 2 * 10**9 + 900 * 10**9
    assert result.equity["equity"][-1] > 1_000_000.0  # the planted +3% on META


def test_fade_sells_a_subject_that_ran_beyond_k_expected_moves(scorer: Scorer) -> None:
    fade = make_strategy("fade", {"k": 0.3, "delay_seconds": 300, "hold_seconds": 600})
    result = run_backtest(news(), market(), [fade], scorer)
    entry = min(result.fills, key=lambda f: f.ts_event)
    assert entry.symbol == "META" and entry.qty < 0  # META was shocked up and ran: sell it
    assert entry.ts_event >= T0 + 2 * 10**9 + 300 * 10**9  # not before the delay
    assert sum(f.qty for f in result.fills) == pytest.approx(0.0)  # closed by the holding time


def test_fade_leaves_moves_within_bounds_alone(scorer: Scorer) -> None:
    fade = make_strategy("fade", {"k": 50.0})
    assert run_backtest(news(), market(), [fade], scorer).fills == []


def test_fade_stops_out_when_the_move_keeps_going(scorer: Scorer) -> None:
    trades = market()
    # META keeps rallying 4% more after the look: the short fade loses and is stopped
    later = pl.col("ts") > T0 + 400 * 10**9
    ramp = ((pl.col("ts") - (T0 + 400 * 10**9)) / (600 * 10**9)).clip(0, 1) * 0.04
    trades = trades.with_columns(
        pl.when(later & (pl.col("symbol") == "META"))
        .then(pl.col("price") * ramp.exp())
        .otherwise(pl.col("price"))
        .alias("price")
    )
    fade = make_strategy(
        "fade", {"k": 0.3, "delay_seconds": 300, "hold_seconds": 2400, "stop_loss": 0.01}
    )
    result = run_backtest(news(), trades, [fade], scorer)
    entry, exit_ = sorted(result.fills, key=lambda f: f.ts_event)
    assert exit_.qty == -entry.qty
    assert exit_.ts_event < T0 + 2400 * 10**9  # the stop, not the holding time
    assert np.sign(entry.qty) == -1 and exit_.price > entry.price


def _restarted(cls: type[Strategy], state: dict[str, Any]) -> type[Strategy]:
    class Restarted(cls):  # type: ignore[valid-type, misc]
        def on_start(self) -> None:  # stands in for the daemon calling engine.load_state
            self.on_load(state)

    return Restarted


def _resume(
    strategy: Strategy, state: dict[str, Any], scorer: Scorer, cut: int
) -> list[tuple[str, float, int]]:
    """Run the rest of the market after a restart at `cut`; return (symbol, qty, ts) of fills."""
    again = _restarted(type(strategy), state)(strategy.config)
    quiet = news().with_columns(
        id=pl.lit("n2"), headline=pl.lit("Weather is mild today"), ts_event=pl.lit(cut + 10**9)
    )
    result = run_backtest(quiet, market().filter(pl.col("ts") >= cut), [again], scorer)
    return [(f.symbol, f.qty, f.ts_event) for f in result.fills]


def test_news_momentum_positions_survive_a_restart(scorer: Scorer) -> None:
    strategy = make_strategy("news_momentum", {"hold_seconds": 900, "stop_loss": 0.5})
    cut = T0 + 60 * 10**9
    first = run_backtest(news(), market().filter(pl.col("ts") < cut), [strategy], scorer)
    [entry] = first.fills
    state = json.loads(json.dumps(strategy.on_save()))  # as the journal stores it
    [(symbol, qty, ts)] = _resume(strategy, state, scorer, cut)
    assert (symbol, qty) == ("META", -entry.qty) and ts >= T0 + 902 * 10**9


def test_fade_watches_survive_a_restart(scorer: Scorer) -> None:
    fade = make_strategy("fade", {"k": 0.3, "delay_seconds": 300, "hold_seconds": 600})
    cut = T0 + 100 * 10**9  # restarted before the look
    first = run_backtest(news(), market().filter(pl.col("ts") < cut), [fade], scorer)
    assert first.fills == []
    state = json.loads(json.dumps(fade.on_save()))
    assert len(state["watching"]) == 1
    fills = _resume(fade, state, scorer, cut)
    assert fills[0][0] == "META" and fills[0][1] < 0 and fills[0][2] >= T0 + 302 * 10**9
