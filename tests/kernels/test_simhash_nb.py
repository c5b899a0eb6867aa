import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.kernels.simhash_nb import nearest_recent_nb, popcount_nb, simhash_nb
from engine.scoring.reference import simhash
from engine.text import tokenize

U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(st.lists(U64, max_size=60))
def test_simhash_kernel_matches_reference(hashes: list[int]) -> None:
    arr = np.array(hashes, np.uint64)
    assert int(simhash_nb(arr, len(hashes))) == simhash(hashes)


@given(U64)
def test_popcount_matches_python(x: int) -> None:
    assert popcount_nb(np.uint64(x)) == bin(x).count("1")


def test_near_duplicate_headlines_are_close_and_different_ones_far() -> None:
    def h(text: str) -> np.uint64:
        arr = np.array([t.hash for t in tokenize(text)], np.uint64)
        return simhash_nb(arr, len(arr))

    a = h("Micron raises its quarterly revenue forecast on surging demand for AI memory chips")
    b = h("Micron raises its quarterly revenue forecast on surging demand for AI memory chips")
    c = h("Boeing halts 737 MAX deliveries after regulators find new quality lapses")
    ring_h = np.array([a, c, 0], np.uint64)
    ring_ts = np.array([0, 5, 0], np.int64)
    assert nearest_recent_nb(ring_h, ring_ts, 2, 2, b, 10, 100) == 0
    assert popcount_nb(a ^ c) > 10
    # outside the window nothing counts
    assert nearest_recent_nb(ring_h, ring_ts, 2, 2, b, 1000, 100) == 64
    # the walk starts at the newest entry and wraps around the ring
    # pos 0: the newest entries are indexes 2 and 1, so the exact copy at index 0 is not seen
    assert nearest_recent_nb(ring_h, ring_ts, 2, 0, b, 10, 100) > 3
