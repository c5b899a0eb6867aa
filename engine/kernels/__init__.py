"""Numba kernels: pure `@njit` functions over arrays and scalars, nothing else.

Every kernel has a plain-Python reference elsewhere in `engine` and a test that the two agree.
This package is the only place that imports numba.

Numba's on-disk cache notices when a kernel's own file changes, but not when a kernel it calls
from another file does, so a stale compiled kernel could survive an upgrade. The cache therefore
lives in a folder named after a hash of every kernel source file: any change starts afresh.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def _cache_dir() -> Path:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha1()
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    base = os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get("NUMBA_CACHE_DIR"):
        root = root / "spillover"
    return root / f"numba-{digest.hexdigest()[:16]}"


def _configure_cache() -> None:
    import numba

    path = _cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # numba falls back to its own locations
    numba.config.CACHE_DIR = str(path)  # type: ignore[attr-defined]


_configure_cache()
