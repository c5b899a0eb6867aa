"""The full scorer takes any text or bytes without raising, and its scores stay in range."""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring import Scorer


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_scoring_and_entity_linking_never_raise_on_arbitrary_text(
    scorer: Scorer, text: str
) -> None:
    shock = scorer.score(text, novelty=False)
    assert all(-1.0 <= leg.score <= 1.0 for leg in shock.legs)
    assert len(shock.legs) <= scorer.settings.max_shocks


@settings(max_examples=100)
@given(st.binary(max_size=400))
def test_scoring_never_raises_on_arbitrary_bytes(scorer: Scorer, data: bytes) -> None:
    from engine.news import NewsItem

    item = NewsItem(id="x", headline=data.decode("utf-8", "replace"), ts_event=0, ts_init=0)
    assert scorer.score(item, novelty=False).news_id == "x"
