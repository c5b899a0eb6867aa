"""Exceptions raised by the engine.

Tree::

    SpilloverError
    ├── ConfigError          a data or settings file is wrong (names the file, row, field)
    │   ├── UniverseError    companies, links or themes
    │   └── LexiconError     event types, patterns, modifiers
    └── InputError           a news item or case the caller passed cannot be used
"""

from __future__ import annotations

from typing import Any


class SpilloverError(Exception):
    """Root of every error the engine raises on purpose."""


class ConfigError(SpilloverError):
    """A data or settings file is wrong."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class UniverseError(ConfigError):
    """Companies, links or themes data is wrong."""


class LexiconError(ConfigError):
    """Event types, patterns or modifiers are wrong."""


class InputError(SpilloverError):
    """A news item or case passed by the caller cannot be used."""


def validation_problems(exc: Any) -> str:
    """A pydantic `ValidationError` as one line: `field.path: what is wrong; ...`."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
