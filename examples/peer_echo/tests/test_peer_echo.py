"""PeerEcho trades related companies only, and the same inputs give the same orders."""

from __future__ import annotations

from pathlib import Path

from backtests.data import load_market, load_news
from backtests.runner import run_backtest
from backtests.synth import generate
from engine.scoring import Scorer
from engine.strategy import make_strategy

RELATIONS = {"competitor", "supplier", "customer", "partner", "peer", "theme"}


def test_peer_echo_trades_the_spillover_and_is_deterministic(tmp_path: Path) -> None:
    data = generate(tmp_path, seed=11, days=2, symbols=8, trades_per_symbol_per_day=400)
    news, trades = load_news(data.news_path), load_market(data.trades_path).frame
    scorer = Scorer.load()
    runs = [run_backtest(news, trades, [make_strategy("peer_echo")], scorer) for _ in range(2)]
    assert runs[0].intents, "no orders"
    assert runs[0].intents == runs[1].intents and runs[0].fills == runs[1].fills
    roles = {(s.news_id, leg.symbol): leg.role for s in runs[0].shocks for leg in s.legs}
    assert {roles[(i.news_id, i.symbol)] for i in runs[0].intents} <= RELATIONS
