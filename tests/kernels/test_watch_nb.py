"""The watch kernels against their plain-Python twins."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kernels.watch_nb import (
    CH_EVERY,
    CH_NEXT,
    CH_SEQ,
    M_NEXT,
    M_SEQ,
    NEVER,
    WF_PNL,
    chain_pnl_nb,
    next_check_nb,
    pass_check_nb,
)
from engine.watches import WatchBook, reference_pnl

prices = st.one_of(st.just(0.0), st.just(math.nan), st.floats(0.5, 500.0))
fills = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 5), st.floats(-500, 500), st.floats(1, 100)),
    max_size=25,
)  # (watch, symbol, shares, price)


@settings(max_examples=150, deadline=None)
@given(fills=fills, last=st.lists(prices, min_size=6, max_size=6), chain_of=st.lists(
    st.integers(0, 1), min_size=4, max_size=4), unwatched=st.sets(st.integers(0, 3)),
    per_cost=st.lists(st.booleans(), min_size=4, max_size=4))  # fmt: skip
def test_chain_pnl_matches_the_python_sum(
    fills: list[tuple[int, int, float, float]],
    last: list[float],
    chain_of: list[int],
    unwatched: set[int],
    per_cost: list[bool],
) -> None:
    symbols = [f"S{i}" for i in range(5)] + ["UNTRACKED"]
    slot_of = {s: i for i, s in enumerate(symbols[:5])}
    book = WatchBook(slot_of)
    views = [book.for_strategy("a"), book.for_strategy("b")]
    bands = [(-0.01, 0.02) if per_cost[w] else (-50.0, 75.0) for w in range(4)]
    for w in range(4):
        views[chain_of[w]].watch(f"w{w}", *bands[w], None, per_cost[w])
        views[chain_of[w]].attach(f"o{w}", f"w{w}")
    held: list[dict[str, list[float]]] = [{} for _ in range(4)]  # first-fill order
    for w, s, qty, price in fills:
        views[chain_of[w]].book_fill(f"o{w}", symbols[s], qty, price)
        q_c = held[w].setdefault(symbols[s], [0.0, 0.0])
        q_c[0] += qty
        q_c[1] += qty * price
    for w in unwatched:
        views[chain_of[w]].unwatch(f"w{w}")
    last_price = np.array(last[:5])
    for chain in (0, 1):
        fails = chain_pnl_nb(chain, last_price, book.wf, book.wi, book.meta)
        out = []
        for w in range(4):
            if chain_of[w] != chain or w in unwatched:
                continue
            px = [last[slot_of[s]] if s in slot_of else 0.0 for s in held[w]]
            px = [p if p > 0 else math.nan for p in px]
            want = reference_pnl((q, c, p) for (q, c), p in zip(held[w].values(), px, strict=True))
            got = book.wf[WF_PNL, views[chain].rows[f"w{w}"]]
            assert (math.isnan(want) and math.isnan(got)) or got == want
            low, high = bands[w]
            if per_cost[w]:  # per dollar of the cost held: the sum of |cost|, in entry order
                scale = 0.0
                for _, cost in held[w].values():
                    scale += abs(cost)
                low, high = low * scale, high * scale
            if want <= low or want >= high:
                out.append(f"w{w}")
        assert fails == bool(out)
        assert [k for k, _ in book.failing(chain, last_price)] == out


def test_the_next_check_is_the_earliest_then_the_first_set() -> None:
    chains = np.zeros((3, 3), np.int64)
    chains[CH_NEXT] = [50, 40, 40]
    chains[CH_SEQ] = [1, 7, 3]
    assert next_check_nb(chains) == 2
    chains[CH_NEXT] = NEVER
    assert next_check_nb(chains) == -1


def test_a_passed_check_moves_its_chain_on_while_a_watch_is_left() -> None:
    book = WatchBook({"A": 0})
    view = book.for_strategy("s")
    view.watch("k", -1.0, 1.0, None)
    book.schedule(view.chain, 100, 4, 30)
    book.meta[M_SEQ] = 9
    pass_check_nb(view.chain, book.chains, book.wi, book.meta)
    assert book.chains[CH_NEXT, 0] == 130 and book.chains[CH_SEQ, 0] == 9
    assert book.chains[CH_EVERY, 0] == 30 and book.meta[M_SEQ] == 10
    assert book.meta[M_NEXT] == 130
    view.unwatch("k")
    pass_check_nb(view.chain, book.chains, book.wi, book.meta)
    assert book.chains[CH_NEXT, 0] == NEVER and book.meta[M_NEXT] == NEVER
