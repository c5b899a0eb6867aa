"""The universe: companies with point-in-time listings, typed links and themes, loaded from data."""

from engine.universe.load import load_universe
from engine.universe.model import (
    LINK_TYPES,
    MAX_DAY,
    MIN_DAY,
    RELATIONS,
    SECTORS,
    Alias,
    Company,
    Link,
    Listing,
    Theme,
    Universe,
    day_of,
)

__all__ = [
    "LINK_TYPES",
    "MAX_DAY",
    "MIN_DAY",
    "RELATIONS",
    "SECTORS",
    "Alias",
    "Company",
    "Link",
    "Listing",
    "Theme",
    "Universe",
    "day_of",
    "load_universe",
]
