"""Scoring extensions: a plugin's data pack adds companies, links and events; its scorer stages
run in their defined order; a broken extension is skipped by name."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.extensions import clear_extension_cache, discover_extensions
from engine.news import NewsItem
from engine.scoring import Scorer
from tests.plugin_helpers import fake_dist, spillover_with

STAGES = """
import msgspec
from engine.extensions import ScorerStage

class Tag(ScorerStage):
    order = 20
    def __call__(self, shock, item):
        return msgspec.structs.replace(shock, notes=[*shock.notes, "tag"])

class NoThemes(ScorerStage):
    order = 10  # runs before Tag although its name sorts after
    def __call__(self, shock, item):
        legs = [leg for leg in shock.legs if leg.role != "theme"]
        return msgspec.structs.replace(shock, legs=legs, notes=[*shock.notes, "no-themes"])
"""

COMPANIES = """symbol,name,sector,industry,aliases,listed,delisted,former_symbols,other_symbols
ZYPH,Zyphra Robotics Inc.,Industrials,Industrial Machinery,Zyphra,,,,
"""
LINKS = "source,target,type,weight,note\nZYPH,NVDA,supplier,0.8,robot brains\n"
EVENTS = """
[[event]]
id = "robot_recall"
label = "robot recall"
strength = 0.6
subject = -1
propagate = { competitor = 0.2, supplier = 0.0, customer = 0.5, partner = 0.0, peer = 0.1 }
patterns = ["recall|recalls|recalled ~3 robot|robots"]
"""


@pytest.fixture()
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "data"
    (data / "universe" / "companies").mkdir(parents=True)
    (data / "universe" / "links").mkdir()
    (data / "lexicon").mkdir()
    (data / "universe" / "companies" / "robots.csv").write_text(COMPANIES)
    (data / "universe" / "links" / "robots.csv").write_text(LINKS)
    (data / "lexicon" / "events.toml").write_text(EVENTS)
    site = fake_dist(
        tmp_path / "site",
        "robot_pack",
        {},
        {"robot_stages": STAGES, "robot_data": f"DATA = {str(data)!r}\n"},
    )
    (site / "robot_pack-0.1.dist-info" / "entry_points.txt").write_text(
        "[spillover.data]\nrobots = robot_data:DATA\nmissing = robot_data:NOPE\n\n"
        "[spillover.scorers]\na_tag = robot_stages:Tag\nz_no_themes = robot_stages:NoThemes\n"
    )
    monkeypatch.syspath_prepend(str(site))
    clear_extension_cache()
    yield site
    clear_extension_cache()


def test_a_data_pack_adds_companies_links_and_events_and_stages_run_in_order(
    pack: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        scorer = Scorer.load()
    assert "'missing'" in caplog.text and "NOPE" in caplog.text  # skipped by name, not fatal
    shock = scorer.score("Zyphra recalls 4,000 warehouse robots after a software fault")
    assert "robot_recall" in [e.id for e in shock.events]
    assert shock.score_of("ZYPH") < 0
    assert shock.score_of("NVDA") < 0  # through the pack's link: NVDA is ZYPH's customer
    assert shock.notes[-2:] == ["no-themes", "tag"]  # order 10 before order 20
    assert all(leg.role != "theme" for leg in shock.legs)
    item = NewsItem(id="b1", headline="Zyphra recalls robots", ts_event=1, ts_init=1)
    assert scorer.score_batch([item]).shock(0).notes[-2:] == ["no-themes", "tag"]
    names = [e.name for e in discover_extensions("spillover.scorers")]
    assert names == ["z_no_themes", "a_tag"]


def test_extensions_reach_the_cli_and_can_be_turned_off(
    pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = spillover_with(pack, "score", "--json", "Zyphra recalls robots")
    assert res.returncode == 0, res.stderr
    assert '"ZYPH"' in res.stdout and "tag" in res.stdout
    monkeypatch.setenv("SPILLOVER_NO_EXTENSIONS", "1")
    off = spillover_with(pack, "score", "--json", "Zyphra recalls robots")
    assert off.returncode == 0 and '"ZYPH"' not in off.stdout


def test_strategies_list_shows_the_extensions(pack: Path) -> None:
    res = spillover_with(pack, "strategies", "list")
    assert res.returncode == 0, res.stderr
    assert "data pack robots = robot_data:DATA: loaded" in res.stdout
    assert "data pack missing" in res.stdout and "skipped" in res.stdout
    assert "scorer stage z_no_themes = robot_stages:NoThemes (order 10): loaded" in res.stdout
