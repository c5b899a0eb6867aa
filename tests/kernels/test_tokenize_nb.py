import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernels.tokenize_nb import tokenize_nb
from engine.text import normalize, tokenize

ALPHABET = st.sampled_from([*"abcXYZ09 $#'.-;|!?&,:()", "Apple", "$AAPL", " - ", "'s", "U.S. "])


def kernel_tokens(text: str) -> list[tuple[int, int, int, int]]:
    buf = np.frombuffer(text.encode("ascii") or b"\0", np.uint8)
    n = 256
    h, f = np.zeros(n, np.uint64), np.zeros(n, np.int32)
    s, e = np.zeros(n, np.int32), np.zeros(n, np.int32)
    k = tokenize_nb(buf, 0, len(text), h, f, s, e)
    return [(int(h[i]), int(f[i]), int(s[i]), int(e[i])) for i in range(k)]


def reference_tokens(text: str) -> list[tuple[int, int, int, int]]:
    return [(t.hash, t.flags, t.start, t.end) for t in tokenize(text)]


@settings(max_examples=300)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_kernel_matches_reference_on_headline_like_text(text: str) -> None:
    assert kernel_tokens(text) == reference_tokens(text)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_kernel_matches_reference_on_any_text(raw: str) -> None:
    text = normalize(raw)[0]
    assert kernel_tokens(text) == reference_tokens(text)


def test_kernel_matches_reference_on_real_headline() -> None:
    text = "RT @x: Nvidia's $NVDA revenue triples; #AI chip demand - U.S. exports won't stop."
    assert kernel_tokens(text) == reference_tokens(text)
    assert len(kernel_tokens(text)) > 10
