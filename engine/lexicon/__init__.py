"""The event lexicon: event types, hedges, negators, clause boundaries and source weights."""

from engine.lexicon.load import EventType, Lexicon, Modifiers, load_lexicon
from engine.lexicon.patterns import Pattern, Slot, Term, parse_pattern

__all__ = [
    "EventType",
    "Lexicon",
    "Modifiers",
    "Pattern",
    "Slot",
    "Term",
    "load_lexicon",
    "parse_pattern",
]
