"""Strategies load by module:Class, validate their settings, and book fills."""

import pytest

from engine.orders import Fill, client_order_id
from engine.strategy import Portfolio, Strategy, StrategyConfig, StrategyLoadError, make_strategy


class MomentumConfig(StrategyConfig):
    threshold: float = 0.2


class Momentum(Strategy):
    config_class = MomentumConfig


def test_a_strategy_loads_by_module_and_class_with_validated_settings() -> None:
    strategy = make_strategy("tests.test_strategy_api:Momentum", {"threshold": 0.3})
    assert isinstance(strategy, Momentum)
    assert strategy.config.threshold == 0.3  # type: ignore[attr-defined]
    assert strategy.config.strategy_id == "Momentum"


def test_a_typo_in_settings_names_the_strategy_and_the_field() -> None:
    with pytest.raises(StrategyLoadError, match=r"Momentum' settings: treshold: Extra inputs"):
        make_strategy("tests.test_strategy_api:Momentum", {"treshold": 0.3})


def test_missing_plugins_are_reported_by_name() -> None:
    with pytest.raises(StrategyLoadError, match="cannot import no_such_module"):
        make_strategy("no_such_module:Thing")
    with pytest.raises(StrategyLoadError, match="has no Nope"):
        make_strategy("tests.test_strategy_api:Nope")
    with pytest.raises(StrategyLoadError, match="no strategy named 'nope'"):
        make_strategy("nope")
    with pytest.raises(StrategyLoadError, match="not a subclass"):
        make_strategy("tests.test_strategy_api:MomentumConfig")


def test_client_order_ids_are_deterministic_per_strategy_news_symbol_and_leg() -> None:
    a = client_order_id("hedge", "n1", "META", "long")
    assert a == client_order_id("hedge", "n1", "META", "long")
    assert a != client_order_id("hedge", "n1", "META", "hedge")
    assert len(a) <= 48  # Alpaca's limit on client_order_id


def test_portfolio_books_fills_and_marks_to_market() -> None:
    book = Portfolio(cash=1000.0)
    book.apply(
        Fill(
            client_order_id="x",
            strategy_id="s",
            symbol="A",
            qty=10,
            price=5.0,
            ts_event=1,
            commission=1.0,
        )
    )
    book.apply(
        Fill(client_order_id="y", strategy_id="s", symbol="B", qty=-4, price=10.0, ts_event=2)
    )
    assert book.cash == 1000 - 50 - 1 + 40
    assert book.position("A") == 10 and book.position("B") == -4
    assert book.value({"A": 6.0, "B": 9.0}.__getitem__) == book.cash + 60 - 36
    book.apply(
        Fill(client_order_id="z", strategy_id="s", symbol="A", qty=-10, price=6.0, ts_event=3)
    )
    assert "A" not in book.positions
