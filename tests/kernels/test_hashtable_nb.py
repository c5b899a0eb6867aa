import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.kernels.hashtable_nb import ht_get_nb
from engine.scoring.compile import _table

U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(st.dictionaries(U64, st.integers(0, 2**31 - 1), max_size=200), st.lists(U64, max_size=50))
def test_table_lookup_matches_dict(items: dict[int, int], probes: list[int]) -> None:
    items = {k or 1: v for k, v in items.items()}
    keys, vals = _table(items)
    for key, value in items.items():
        assert ht_get_nb(keys, vals, np.uint64(key)) == value
    for key in probes:
        key = key or 1
        assert ht_get_nb(keys, vals, np.uint64(key)) == items.get(key, -1)
