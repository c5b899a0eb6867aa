from hypothesis import given
from hypothesis import strategies as st

from engine.text import normalize, tokenize


@given(st.text())
def test_normalize_never_raises_and_returns_ascii(text: str) -> None:
    out, _ = normalize(text)
    assert out.isascii()


@given(st.binary())
def test_normalize_accepts_invalid_utf8_bytes(data: bytes) -> None:
    out, _ = normalize(data)
    assert out.isascii()


@given(st.text())
def test_tokenize_never_raises_on_normalised_text(text: str) -> None:
    tokens = tokenize(normalize(text)[0])
    assert all(t.end > t.start for t in tokens)


def test_long_text_is_cut_and_says_so() -> None:
    out, cut = normalize("x" * 5000, max_chars=100)
    assert cut and len(out) == 100
    assert normalize("short", max_chars=100) == ("short", False)


def test_curly_quotes_dashes_and_entities_become_plain() -> None:
    out, _ = normalize("Nvidia\u2019s chips \u2014 AT&amp;T says")
    assert out == "Nvidia's chips  -  AT&T says"


def test_accents_are_folded() -> None:
    assert normalize("Nestl\u00e9 and Herm\u00e8s")[0] == "Nestle and Hermes"


def test_possessive_cashtag_and_hashtag_tokens() -> None:
    toks = tokenize("Meta's $BRK-B #Apple")
    assert [t.text for t in toks] == ["meta", "$brk.b", "apple"]
