"""The token pattern syntax of events, themes and modifiers (see `configs/README.md`).

`cut*|lower*|slash* ~4 forecast*|guidance @0.9` → slots [{cut*, lower*, slash*}, gap ≤ 4,
{forecast*, guidance}], confidence 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import LexiconError
from engine.text.tokens import CASHTAG, tokenize

MAX_GAP = 8
MIN_STEM = 3


@dataclass(frozen=True, slots=True)
class Term:
    """One alternative: a whole lower-case word, or a prefix when `stem`."""

    word: str
    stem: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    """Alternatives for one token, and how many other tokens may come before it."""

    terms: tuple[Term, ...]
    gap: int = 0


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed pattern."""

    text: str
    slots: tuple[Slot, ...]
    weight: float = 1.0


def _words(alternative: str) -> list[str]:
    return [t.text for t in tokenize(alternative) if not t.flags & CASHTAG]


def parse_pattern(text: str, where: str = "") -> Pattern:
    """Parse one pattern; raise `LexiconError` saying what to fix."""
    body, weight = text.strip(), 1.0
    if "@" in body:
        body, _, w = body.rpartition("@")
        try:
            weight = float(w)
        except ValueError:
            raise LexiconError(
                f"pattern {text!r}: '@{w}' is not a confidence number", path=where
            ) from None
        if not 0.0 < weight <= 1.0:
            raise LexiconError(f"pattern {text!r}: confidence must be in (0, 1]", path=where)
    slots: list[Slot] = []
    gap = 0
    for part in body.split():
        if part.startswith("~"):
            if not slots:
                raise LexiconError(f"pattern {text!r}: a gap '~N' cannot come first", path=where)
            try:
                gap = int(part[1:])
            except ValueError:
                raise LexiconError(
                    f"pattern {text!r}: '{part}' must be ~N with N a number", path=where
                ) from None
            if not 0 <= gap <= MAX_GAP:
                raise LexiconError(f"pattern {text!r}: gap {gap} must be 0..{MAX_GAP}", path=where)
            continue
        alternatives = [a for a in part.split("|") if a]
        if len(alternatives) == 1 and not alternatives[0].endswith("*"):
            words = _words(alternatives[0])
            if not words:
                raise LexiconError(f"pattern {text!r}: '{part}' has no word in it", path=where)
            for k, word in enumerate(words):
                slots.append(Slot((Term(word),), gap if k == 0 else 0))
            gap = 0
            continue
        terms: list[Term] = []
        for alt in alternatives:
            stem = alt.endswith("*")
            words = _words(alt.rstrip("*"))
            if len(words) != 1:
                raise LexiconError(
                    f"pattern {text!r}: alternative '{alt}' must be a single word "
                    "(write multi-word phrases as separate words)",
                    path=where,
                )
            if stem and len(words[0]) < MIN_STEM:
                raise LexiconError(
                    f"pattern {text!r}: stem '{alt}' needs at least {MIN_STEM} letters before '*'",
                    path=where,
                )
            terms.append(Term(words[0], stem))
        slots.append(Slot(tuple(terms), gap))
        gap = 0
    if gap:
        raise LexiconError(f"pattern {text!r}: a gap '~N' cannot come last", path=where)
    if not slots:
        raise LexiconError(f"pattern {text!r} is empty", path=where)
    return Pattern(text=text, slots=tuple(slots), weight=weight)
