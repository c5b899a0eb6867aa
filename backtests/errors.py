"""Errors of the replay harness.

Tree::

    SpilloverError (engine.errors)
    └── DataError        a news or market data file cannot be used (names file, column, row)
"""

from __future__ import annotations

from engine.errors import SpilloverError


class DataError(SpilloverError):
    """A news or market data file cannot be used; the message names the file, column and row."""
