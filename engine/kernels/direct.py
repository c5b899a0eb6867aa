"""A kernel's machine code, called without numba's dispatch: for the replay's hottest calls.

On every call numba's dispatcher finds the numba type of each argument to pick the compiled
version: about 20 ns an argument, 0.3-0.4 µs of a 15-21-argument fold that the replay calls
35,000 times (1.5% of it). `compiled_for` picks once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import typeof


def compiled_for(kernel: Any, *args: Any) -> Callable[..., Any]:
    """`kernel` compiled (or loaded from the cache) for the numba types of `args`, as a
    function that skips dispatch.

    Nothing checks the arguments of later calls: pass values of the same types (for arrays,
    the same dtype, dimensions and layout), e.g. the very arrays `args` held, as the callers
    here do (they make it again when handed other arrays). With NUMBA_DISABLE_JIT the kernel is
    a plain function, returned as it is.
    """
    if not hasattr(kernel, "compile"):
        return kernel  # type: ignore[no-any-return]
    return kernel.compile(tuple(typeof(a) for a in args))  # type: ignore[no-any-return, no-untyped-call]
