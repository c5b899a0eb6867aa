"""Rebuild the model, workspace and output tuples from byte arenas inside compiled code.

Passing ~100 arrays into a kernel costs tens of microseconds of argument unboxing per call;
passing three byte arenas and their index tables costs a few. The Python side packs
(`engine.scoring.arena.pack`); these functions take typed views of the arenas, in the field order
of the tuples in `engine.scoring.compiled` (a test checks the round trip field by field).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.layout import ModelArrays, Output, Workspace


@njit(cache=True, inline="always")
def _b(arena, idx, k):  # type: ignore[no-untyped-def]
    return arena[idx[k, 0] : idx[k, 1]]


@njit(cache=True)
def model_from_arena_nb(
    arena: np.ndarray, idx: np.ndarray, ip: np.ndarray, fp: np.ndarray
) -> ModelArrays:
    """Typed views of a packed `ModelArrays`; scalars come from ip (ints) and fp (floats)."""
    u64, i32, i8, f64, b1 = np.uint64, np.int32, np.int8, np.float64, np.bool_
    return ModelArrays(
        _b(arena, idx, 0).view(u64),
        _b(arena, idx, 1).view(i32),
        _b(arena, idx, 2).view(i32),
        _b(arena, idx, 3).view(i32),
        _b(arena, idx, 4).view(i32),
        _b(arena, idx, 5).view(i8),
        _b(arena, idx, 6).view(i32),
        _b(arena, idx, 7).view(i32),
        _b(arena, idx, 8).view(i32),
        _b(arena, idx, 9).view(u64),
        _b(arena, idx, 10).view(i32),
        _b(arena, idx, 11).view(u64),
        _b(arena, idx, 12).view(i32),
        ip[0],
        _b(arena, idx, 14).view(i32),
        _b(arena, idx, 15).view(i32),
        _b(arena, idx, 16).view(i8),
        _b(arena, idx, 17).view(i32),
        _b(arena, idx, 18).view(f64),
        _b(arena, idx, 19).view(b1),
        _b(arena, idx, 20).view(i32),
        _b(arena, idx, 21).view(i32),
        _b(arena, idx, 22).view(i32),
        _b(arena, idx, 23).view(i32),
        _b(arena, idx, 24).view(i32),
        _b(arena, idx, 25).view(f64),
        _b(arena, idx, 26).view(f64),
        _b(arena, idx, 27).view(f64),
        _b(arena, idx, 28).view(b1),
        _b(arena, idx, 29).view(f64),
        _b(arena, idx, 30).view(f64),
        _b(arena, idx, 31).view(f64),
        _b(arena, idx, 32).view(f64),
        _b(arena, idx, 33).view(i32),
        _b(arena, idx, 34).view(i32),
        _b(arena, idx, 35).view(f64),
        _b(arena, idx, 36).view(i32),
        _b(arena, idx, 37).view(i32),
        _b(arena, idx, 38).view(i8),
        _b(arena, idx, 39).view(f64),
        _b(arena, idx, 40).view(i32),
        _b(arena, idx, 41).view(i32),
        _b(arena, idx, 42).view(i32),
        _b(arena, idx, 43).view(i32),
        ip[1],
        fp[0],
        ip[2],
        fp[1],
        ip[3],
        _b(arena, idx, 49).view(b1),
    )


@njit(cache=True)
def workspace_from_arena_nb(arena: np.ndarray, idx: np.ndarray) -> Workspace:
    """Typed views of a packed `Workspace`."""
    u64, i32, i8, i64, f64, b1 = np.uint64, np.int32, np.int8, np.int64, np.float64, np.bool_
    return Workspace(
        _b(arena, idx, 0).view(u64),
        _b(arena, idx, 1).view(i32),
        _b(arena, idx, 2).view(i32),
        _b(arena, idx, 3).view(i32),
        _b(arena, idx, 4).view(i32),
        _b(arena, idx, 5).view(i32),
        _b(arena, idx, 6).view(b1),
        _b(arena, idx, 7).view(i32),
        _b(arena, idx, 8).view(i32),
        _b(arena, idx, 9).view(i32),
        _b(arena, idx, 10).view(i32),
        _b(arena, idx, 11).view(i32),
        _b(arena, idx, 12).view(i32),
        _b(arena, idx, 13).view(i32),
        _b(arena, idx, 14).view(i32),
        _b(arena, idx, 15).view(i32),
        _b(arena, idx, 16).view(i32),
        _b(arena, idx, 17).view(f64),
        _b(arena, idx, 18).view(i32),
        _b(arena, idx, 19).view(b1),
        _b(arena, idx, 20).view(b1),
        _b(arena, idx, 21).view(i32),
        _b(arena, idx, 22).view(i32),
        _b(arena, idx, 23).view(f64),
        _b(arena, idx, 24).view(b1),
        _b(arena, idx, 25).view(f64),
        _b(arena, idx, 26).view(f64),
        _b(arena, idx, 27).view(i8),
        _b(arena, idx, 28).view(i32),
        _b(arena, idx, 29).view(i32),
        _b(arena, idx, 30).view(b1),
        _b(arena, idx, 31).view(i32),
        _b(arena, idx, 32).view(i64),
        _b(arena, idx, 33).view(u64),
        _b(arena, idx, 34).view(i64),
        _b(arena, idx, 35).view(i64),
        _b(arena, idx, 36).view(b1),
    )


@njit(cache=True)
def output_from_arena_nb(arena: np.ndarray, idx: np.ndarray) -> Output:
    """Typed views of a packed `Output`."""
    i32, i8, f64 = np.int32, np.int8, np.float64
    return Output(
        _b(arena, idx, 0).view(i32),
        _b(arena, idx, 1).view(i32),
        _b(arena, idx, 2).view(f64),
        _b(arena, idx, 3).view(i8),
        _b(arena, idx, 4).view(i32),
        _b(arena, idx, 5).view(i32),
        _b(arena, idx, 6).view(i32),
        _b(arena, idx, 7).view(i32),
        _b(arena, idx, 8).view(f64),
        _b(arena, idx, 9).view(i32),
        _b(arena, idx, 10).view(i32),
        _b(arena, idx, 11).view(i32),
        _b(arena, idx, 12).view(f64),
        _b(arena, idx, 13).view(f64),
        _b(arena, idx, 14).view(i32),
    )
