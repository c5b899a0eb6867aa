"""Numba kernels: pure `@njit` functions over arrays and scalars, nothing else.

Every kernel has a plain-Python reference elsewhere in `engine` and a test that the two agree.
This package is the only place that imports numba.
"""
