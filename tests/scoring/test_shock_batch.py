"""Shocks of a batch, built in one go, are the shocks built one headline at a time."""

import math

import msgspec
import numpy as np
import orjson
from hypothesis import given
from hypothesis import strategies as st

from engine.news import NewsItem, news_from_mapping
from engine.scoring import Scorer
from tests.conftest import shared_path

HOUR = 3600 * 10**9
BASE = 1_700_000_000 * 10**9


def _items() -> list[NewsItem]:
    crafted = [
        "Meta plans to sell its spare AI computing power",
        "Meta plans to sell its spare AI computing power",  # a repeat: damped by novelty
        "Nvidia may reportedly consider cutting prices, analysts said",  # hedged
        "Apple wins major contract; TSMC and Broadcom to supply chips",
        "Eaton loses major contract " + "and more words " * 400,  # cut to max_chars
        "Nothing to see here",
        "Cisco to buy Splunk",
    ]
    items = [
        news_from_mapping({
            "id": f"c{i}", "headline": h, "created_at": BASE + i * HOUR,
            "source": ["", "Benzinga", "SeekingAlpha", "unknown-blog"][i % 4],
            "symbols": ["AAPL", "NVDA"] if i % 2 else [],
        })
        for i, h in enumerate(crafted)
    ]  # fmt: skip
    news = shared_path("data", "stocknet", "news.jsonl").read_bytes().splitlines()
    items += [news_from_mapping(orjson.loads(x)) for x in news[::40]]
    return items


def test_batch_shocks_equal_shocks_built_row_by_row(scorer: Scorer) -> None:
    items = _items()
    scorer.reset_novelty()
    batch = scorer.score_batch(items)
    by_row = [scorer._staged(scorer._shock_from_row(batch, i), items[i]) for i in range(len(items))]
    in_one_go = batch.shocks()
    assert in_one_go == by_row
    assert msgspec.json.encode(in_one_go) == msgspec.json.encode(by_row)
    assert sum(len(s.legs) for s in in_one_go) > len(items)  # legs of every role were built
    assert {leg.role for s in in_one_go for leg in s.legs} >= {"subject", "supplier", "theme"}
    assert any(s.truncated for s in in_one_go) and any(s.events for s in in_one_go)


def test_batch_shocks_equal_single_scores(scorer: Scorer) -> None:
    items = [i for i in _items() if len(i.symbols) <= 16]
    scorer.reset_novelty()
    batch = scorer.score_batch(items)
    scorer.reset_novelty()
    singles = [scorer.score(item) for item in items]
    assert batch.shocks() == singles


def test_symbols_on_many_pairs_equal_one_at_a_time_before_1970_too(scorer: Scorer) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    companies = rng.integers(0, len(scorer.universe.companies), 3000).astype(np.int32)
    renamed = [i for i, c in enumerate(scorer.universe.companies) if len(c.listings) > 1]
    assert len(renamed) > 10
    companies[::2] = rng.choice(renamed, 1500)  # half of them changed symbol at some point
    days = rng.integers(-20_000, 25_000, 3000)  # 1915 to 2038: renames and delistings inside
    expected = [scorer._symbol_on(int(c), int(d)) for c, d in zip(companies, days, strict=True)]
    assert scorer._symbols_on(companies, days) == expected
    assert scorer._symbols_on(companies[:0], days[:0]) == []


@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 4), st.sampled_from([0.0, 0.5, -0.5, 0.9, -0.2, math.nan])),
            max_size=5,
        ),
        max_size=8,
    )
)
def test_events_of_a_batch_equal_each_row_s(
    scorer: Scorer, rows: list[list[tuple[int, float]]]
) -> None:
    """Repeated types (the strongest, the first of equals), 0 and NaN strengths, empty rows."""
    ptr = [0]
    for row in rows:
        ptr.append(ptr[-1] + len(row))
    ids = np.array([e for row in rows for e, _ in row], np.int32)
    confs = np.array([w for row in rows for _, w in row], np.float64)
    hits, hit_ptr = scorer._batch_events(ptr, ids, confs)
    for i, row in enumerate(rows):
        want = scorer._events([e for e, _ in row], [w for _, w in row])
        assert hits[hit_ptr[i] : hit_ptr[i + 1]] == want
