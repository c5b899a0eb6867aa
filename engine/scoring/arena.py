"""Pack a tuple of arrays into one byte arena, so a kernel call unboxes a handful of arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

_ALIGN = 8


@dataclass(slots=True)
class Packed:
    """A packed tuple: the arena, its index (byte start, end per field), scalars, and views.

    `views` is the same tuple type with every array replaced by a NumPy view into the arena,
    so Python reads and writes the very memory the kernels use.
    """

    arena: np.ndarray
    idx: np.ndarray
    ints: np.ndarray
    floats: np.ndarray
    views: Any


def pack(value: NamedTuple) -> Packed:
    """Copy every array field of `value` into one aligned arena; keep scalars apart."""
    fields = value._fields
    sizes = []
    for name in fields:
        x = getattr(value, name)
        sizes.append(np.ascontiguousarray(x).nbytes if isinstance(x, np.ndarray) else 0)
    offsets = []
    pos = 0
    for size in sizes:
        offsets.append(pos)
        pos += -(-size // _ALIGN) * _ALIGN
    arena = np.zeros(max(pos, _ALIGN), np.uint8)
    idx = np.zeros((len(fields), 2), np.int64)
    ints: list[int] = []
    floats: list[float] = []
    views: dict[str, Any] = {}
    for k, name in enumerate(fields):
        x = getattr(value, name)
        if isinstance(x, np.ndarray):
            flat = np.ascontiguousarray(x).ravel()
            start, end = offsets[k], offsets[k] + flat.nbytes
            idx[k] = (start, end)
            view = arena[start:end].view(flat.dtype)
            view[:] = flat
            views[name] = view
        elif isinstance(x, bool | int | np.integer):
            ints.append(int(x))
            views[name] = x
        else:
            floats.append(float(x))
            views[name] = x
    return Packed(
        arena=arena,
        idx=idx,
        ints=np.array(ints or [0], np.int64),
        floats=np.array(floats or [0.0], np.float64),
        views=type(value)(**views),  # type: ignore[call-overload]
    )


def alloc(cls: Any, spec: list[tuple[str, Any, int]]) -> Packed:
    """Allocate a zeroed arena for tuple type `cls` from (field, dtype, length), without copying."""
    sizes = [np.dtype(dt).itemsize * n for _, dt, n in spec]
    offsets = np.concatenate([[0], np.cumsum([-(-size // _ALIGN) * _ALIGN for size in sizes])])
    arena = np.zeros(max(int(offsets[-1]), _ALIGN), np.uint8)
    idx = np.stack([offsets[:-1], offsets[:-1] + np.array(sizes)], axis=1).astype(np.int64)
    views = {
        name: arena[int(idx[k, 0]) : int(idx[k, 1])].view(dt)
        for k, (name, dt, _) in enumerate(spec)
    }
    return Packed(arena, idx, np.zeros(1, np.int64), np.zeros(1, np.float64), cls(**views))
