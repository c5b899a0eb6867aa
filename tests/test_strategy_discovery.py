"""Strategies are found by entry point (built-ins too), once; a broken plugin is named, not fatal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.strategy import (
    StrategyLoadError,
    clear_strategy_cache,
    discover_strategies,
    load_strategy_class,
    make_strategy,
)
from strategies.fade import Fade
from strategies.news_momentum import NewsMomentum
from strategies.shock_hedge import ShockHedge
from tests.plugin_helpers import fake_dist, spillover_with

GOOD = """
from engine.strategy import Strategy, StrategyConfig

class GoodConfig(StrategyConfig):
    size: int = 3

class Good(Strategy):
    '''A plugin that loads.'''
    config_class = GoodConfig
"""


@pytest.fixture()
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Three fake installed plugins: one good, one whose import fails, one that raises on import."""
    site = fake_dist(
        tmp_path / "site",
        "acme_plugins",
        {
            "acme_good": "acme_good:Good",
            "acme_missing": "acme_missing:Thing",
            "acme_raises": "acme_raises:Thing",
            "acme_not_a_strategy": "acme_good:GoodConfig",
        },
        {
            "acme_good": GOOD,
            "acme_missing": "import no_such_dependency_xyz\n",
            "acme_raises": "raise RuntimeError('cannot reach the [licence] server')\n",
        },
    )
    monkeypatch.syspath_prepend(str(site))
    clear_strategy_cache()
    yield site
    clear_strategy_cache()


def test_built_ins_register_by_entry_point_like_any_plugin() -> None:
    found = discover_strategies()
    assert found["shock_hedge"].cls is ShockHedge
    assert found["news_momentum"].cls is NewsMomentum
    assert found["fade"].cls is Fade
    assert found["shock_hedge"].distribution == "spillover"


def test_strategies_load_once_and_are_cached() -> None:
    assert discover_strategies() is discover_strategies()
    assert load_strategy_class("shock_hedge") is load_strategy_class("shock_hedge")
    assert load_strategy_class("strategies.fade:Fade") is Fade


def test_a_broken_plugin_is_reported_by_name_and_the_others_still_load(plugins: Path) -> None:
    found = discover_strategies()
    assert found["acme_good"].cls is not None and found["acme_good"].error == ""
    assert found["shock_hedge"].cls is ShockHedge
    assert "ModuleNotFoundError" in found["acme_missing"].error
    assert "no_such_dependency_xyz" in found["acme_missing"].error
    assert "[licence] server" in found["acme_raises"].error
    assert "not a subclass" in found["acme_not_a_strategy"].error
    with pytest.raises(StrategyLoadError, match=r"'acme_raises' \(acme_raises:Thing\) failed"):
        make_strategy("acme_raises")
    assert make_strategy("acme_good", {"size": 5}).config.size == 5  # type: ignore[attr-defined]


def test_strategies_list_shows_settings_and_broken_plugins(plugins: Path) -> None:
    res = spillover_with(plugins, "strategies", "list", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["acme_good"]["settings"] == {"size": 3}
    assert rows["shock_hedge"]["settings"]["threshold"] == 0.15
    assert "[licence] server" in rows["acme_raises"]["error"]
    table = spillover_with(plugins, "strategies", "list")
    assert table.returncode == 0, table.stderr
    assert "acme_good" in table.stdout and "failed to load" in table.stdout
    assert "[licence] server" in table.stdout  # plugin text is not taken as markup
    assert "2 failed" not in table.stdout and "3 failed" in table.stdout


def test_strategies_show_prints_the_docstring_and_json_schema() -> None:
    res = spillover_with(Path("/nonexistent"), "strategies", "show", "fade")
    assert res.returncode == 0, res.stderr
    assert "expected move" in res.stdout
    schema = json.loads(res.stdout[res.stdout.index("{") :])
    assert schema["properties"]["k"]["default"] == 1.5
    missing = spillover_with(Path("/nonexistent"), "strategies", "show", "nope")
    assert missing.returncode == 2 and "no strategy named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
