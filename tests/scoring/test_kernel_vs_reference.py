"""The compiled scorer and the plain-Python reference agree, headline by headline."""

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring import Scorer
from engine.scoring.reference import ReferenceScorer
from engine.universe import day_of
from tests.conftest import shared_path


def agree(scorer: Scorer, ref: ReferenceScorer, headline: str, when: str) -> None:
    from engine.news import news_from_mapping

    day = day_of(when)
    shock = scorer.score(
        news_from_mapping({"headline": headline, "created_at": when}), novelty=False
    )
    kernel = {leg.symbol: leg.score for leg in shock.legs}
    expected = {
        scorer.universe.companies[c].symbol_on(day): v for c, v in ref.score(headline, day).items()
    }
    top = dict(sorted(expected.items(), key=lambda kv: -abs(kv[1]))[: scorer.settings.max_shocks])
    assert kernel.keys() == top.keys(), headline
    for sym, v in top.items():
        assert kernel[sym] == pytest.approx(v, abs=1e-9), (headline, sym)


@pytest.fixture(scope="module")
def mini_ref(mini_scorer: Scorer) -> ReferenceScorer:
    return ReferenceScorer(mini_scorer.universe, mini_scorer.lexicon)


WORDS = [
    "Meta",
    "Facebook",
    "Cisco",
    "Splunk",
    "Apple",
    "iPhone",
    "$MU",
    "$FB",
    "MU",
    "CRWV",
    "Micron",
    "to",
    "buy",
    "be",
    "acquired",
    "by",
    "sell",
    "spare",
    "capacity",
    "computing",
    "bans",
    "not",
    "denies",
    "reportedly",
    "while",
    "but",
    ";",
    "-",
    "its",
    "the",
    "'s",
    "and",
    "Berkshire",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join),
    st.sampled_from(["2014-05-01", "2025-06-01"]),
)
def test_mini_universe_agrees_on_generated_headlines(
    mini_scorer: Scorer, mini_ref: ReferenceScorer, headline: str, when: str
) -> None:
    agree(mini_scorer, mini_ref, headline, when)


@pytest.fixture(scope="module")
def full_ref(scorer: Scorer) -> ReferenceScorer:
    return ReferenceScorer(scorer.universe, scorer.lexicon)


def test_full_universe_agrees_on_examples_and_real_news(
    scorer: Scorer, full_ref: ReferenceScorer
) -> None:
    rows = [
        orjson.loads(x)
        for x in shared_path("examples", "headlines.jsonl").read_bytes().splitlines()
    ]
    news = shared_path("data", "stocknet", "news.jsonl").read_bytes().splitlines()
    rows += [orjson.loads(x) for x in news[::60]]
    for row in rows:
        agree(scorer, full_ref, row["headline"], row["created_at"])


def test_novelty_damping_agrees_over_a_stream(
    mini_scorer: Scorer, mini_ref: ReferenceScorer
) -> None:
    from engine.news import news_from_mapping

    hour = 3600 * 10**9
    stream = [
        ("Meta plans to sell its spare AI computing power", 0),
        ("Cisco to buy Splunk", 1 * hour),
        ("Meta plans to sell its spare AI computing power", 2 * hour),  # repeat: damped
        ("Meta plans to sell its spare AI computing power", 40 * hour),  # outside 24 h: fresh
    ]
    mini_scorer.reset_novelty()
    mini_ref.ring.clear()
    base = 1_700_000_000 * 10**9
    items = [news_from_mapping({"headline": h, "created_at": base + t}) for h, t in stream]
    batch = mini_scorer.score_batch(items)
    for i, (h, t) in enumerate(stream):
        shock = batch.shock(i)
        ref = mini_ref.score(h, (base + t) // (86400 * 10**9), ts=base + t, novelty=True)
        assert {leg.symbol: round(leg.score, 9) for leg in shock.legs} == {
            mini_scorer.universe.companies[c].symbol_on((base + t) // (86400 * 10**9)): round(v, 9)
            for c, v in ref.items()
        }
    assert [batch.shock(i).novelty for i in range(4)] == [1.0, 1.0, 0.25, 1.0]


def test_implicit_industry_peers_reach_unlinked_companies_in_both(mini_scorer: Scorer) -> None:
    from engine.news import news_from_mapping
    from engine.scoring.compile import ScoringParams

    settings = mini_scorer.settings.model_copy(update={"industry_peer_weight": 0.5})
    scorer = Scorer(mini_scorer.universe, mini_scorer.lexicon, settings)
    ref = ReferenceScorer(scorer.universe, scorer.lexicon, ScoringParams(industry_peer_weight=0.5))
    # MU and QCOM share an industry (Semiconductors) but no written link
    text, when = "Micron to buy Splunk", "2023-05-21"  # acquisition spills to peers (0.2)
    shock = scorer.score(news_from_mapping({"headline": text, "created_at": when}), novelty=False)
    assert shock.score_of("QCOM") < 0
    assert (
        mini_scorer.score(
            news_from_mapping({"headline": text, "created_at": when}), novelty=False
        ).score_of("QCOM")
        == 0
    )
    agree(scorer, ref, text, when)
