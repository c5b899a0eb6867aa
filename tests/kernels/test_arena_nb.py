"""Packing tuples into arenas and viewing them back inside compiled code loses nothing."""

import numpy as np
from numba import njit

from engine.kernels.arena_nb import (
    model_from_arena_nb,
    output_from_arena_nb,
    workspace_from_arena_nb,
)
from engine.kernels.layout import new_output, new_workspace
from engine.scoring import Scorer
from engine.scoring.arena import pack


def assert_same(original: object, viewed: object, name: str) -> None:
    if isinstance(original, np.ndarray):
        assert isinstance(viewed, np.ndarray), name
        assert viewed.dtype == original.dtype, name
        np.testing.assert_array_equal(viewed, original.ravel(), err_msg=name)
    else:
        assert viewed == original, name


def test_model_round_trip_through_compiled_views(mini_scorer: Scorer) -> None:
    arrays = mini_scorer.compiled.arrays
    packed = pack(arrays)

    @njit
    def unpack(arena, idx, ip, fp):  # type: ignore[no-untyped-def]
        return model_from_arena_nb(arena, idx, ip, fp)

    viewed = unpack(packed.arena, packed.idx, packed.ints, packed.floats)
    for name in arrays._fields:
        assert_same(getattr(arrays, name), getattr(viewed, name), name)


def test_workspace_and_output_round_trip() -> None:
    rng = np.random.default_rng(1)
    ws = new_workspace(7, ring_size=32)
    ws = type(ws)(*(rng.integers(0, 100, a.shape).astype(a.dtype) for a in ws))
    out = new_output(3, 5)
    out = type(out)(*(rng.integers(0, 100, a.shape).astype(a.dtype) for a in out))

    @njit
    def unpack_ws(arena, idx):  # type: ignore[no-untyped-def]
        return workspace_from_arena_nb(arena, idx)

    @njit
    def unpack_out(arena, idx):  # type: ignore[no-untyped-def]
        return output_from_arena_nb(arena, idx)

    pw, po = pack(ws), pack(out)
    for original, viewed in (
        (ws, unpack_ws(pw.arena, pw.idx)),
        (out, unpack_out(po.arena, po.idx)),
    ):
        for name in original._fields:
            assert_same(getattr(original, name), getattr(viewed, name), name)


def test_python_views_share_memory_with_the_arena() -> None:
    packed = pack(new_output(2, 4))
    packed.views.n_shocks[1] = 9
    assert packed.arena[packed.idx[6, 0] + 4 : packed.idx[6, 0] + 8].view(np.int32)[0] == 9
