"""The universe shipped in configs/: big enough, consistent, point in time, and maps real news."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from engine.news import news_from_mapping
from engine.scoring import Scorer
from engine.universe import day_of, load_universe
from engine.universe.check import check_universe
from tests.conftest import ROOT, shared_path


@pytest.fixture(scope="module")
def universe():  # type: ignore[no-untyped-def]
    return load_universe(ROOT / "configs" / "universe")


def test_universe_meets_the_promised_sizes(universe) -> None:  # type: ignore[no-untyped-def]
    report = check_universe(universe, day_of(dt.date.today()))
    assert report.counts["companies"] >= 500
    assert report.counts["listed today"] >= 500
    assert report.counts["links"] >= 2000
    assert report.counts["themes"] >= 30
    assert report.counts["sectors"] == 11
    for kind in ("competitor", "supplier", "partner", "peer"):
        assert report.counts[f"links: {kind}"] > 50


def test_universe_check_finds_no_problem(universe) -> None:  # type: ignore[no-untyped-def]
    report = check_universe(universe, day_of(dt.date.today()))
    assert report.problems == []


def test_ai_infrastructure_and_large_adrs_are_in(universe) -> None:  # type: ignore[no-untyped-def]
    for sym in ("CRWV", "NBIS", "TSM", "ASML", "NVO", "ARM", "MU", "NVDA", "AVGO", "VRT", "CEG"):
        assert universe.find(sym) is not None, sym


def test_every_stocknet_ticker_resolves_to_a_company(universe) -> None:  # type: ignore[no-untyped-def]
    rows = shared_path("data", "stocknet", "symbols.tsv").read_text().splitlines()[1:]
    missing = [r.split("\t")[1] for r in rows if universe.find(r.split("\t")[1]) is None]
    assert missing == []


def test_names_map_to_the_ticker_in_force_on_the_day(scorer: Scorer) -> None:
    def subjects(text: str, when: str) -> list[str]:
        item = news_from_mapping({"headline": text, "created_at": when})
        return scorer.score(item, novelty=False).subjects

    assert subjects("Facebook shares jump", "2014-05-01") == ["FB"]
    assert subjects("Facebook shares jump", "2024-05-01") == ["META"]
    assert subjects("Priceline shares jump", "2015-05-01") == ["PCLN"]
    assert subjects("United Technologies wins an order", "2015-05-01") == ["UTX"]


def test_real_2014_2016_posts_link_to_their_own_ticker(scorer: Scorer) -> None:
    lines = shared_path("data", "stocknet", "news.jsonl").read_bytes().splitlines()
    rows = [orjson.loads(x) for x in lines]
    items = [news_from_mapping({**r, "symbols": []}) for r in rows]
    batch = scorer.score_batch(items, novelty=False)
    hits = 0
    for i, row in enumerate(rows):
        own = scorer.universe.find(row["symbols"][0])
        assert own is not None
        found = {scorer.universe.find(s).symbol for s in batch.shock(i).subjects}  # type: ignore[union-attr]
        hits += own.symbol in found
    rate = hits / len(rows)
    assert rate >= 0.95, f"only {rate:.1%} of posts link to their own ticker"
