"""Validation of the universe beyond what loading catches: collisions, duplicates, gaps."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from engine.text.normalize import normalize
from engine.text.tokens import CASHTAG, tokenize
from engine.universe.model import LINK_TYPES, MAX_DAY, Universe


@dataclass(slots=True)
class UniverseReport:
    """Counts and problems of a universe."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _alias_key(text: str) -> tuple[str, ...]:
    return tuple(t.text for t in tokenize(normalize(text)[0]) if not t.flags & CASHTAG)


def alias_collisions(universe: Universe) -> list[str]:
    """Aliases that two companies share in overlapping periods."""
    owners: dict[tuple[str, ...], list[tuple[str, int, int, str]]] = defaultdict(list)
    for company in universe.companies:
        seen: set[tuple[str, ...]] = set()
        for alias in company.names():
            text, lo, hi = alias.text, alias.valid_from, alias.valid_to
            key = _alias_key(text)
            if key and key not in seen:
                seen.add(key)
                owners[key].append((company.symbol, lo, hi, text))
    out = []
    for key, rows in owners.items():
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                a, b = rows[i], rows[j]
                # overlapping periods are fine when one starts later: it wins from its start
                if a[1] <= b[2] and b[1] <= a[2] and a[1] == b[1]:
                    out.append(
                        f"alias {' '.join(key)!r} belongs to both {a[0]} ({a[3]!r}) and {b[0]} ({b[3]!r}): "
                        "drop it from one, or date one (NAME@YYYY-MM-DD..): the later start wins"
                    )
    return out


def duplicate_links(universe: Universe) -> list[str]:
    """Links written twice (for symmetric types, in either direction)."""
    seen: dict[tuple[str, str, str], str] = {}
    out = []
    for link in universe.links:
        a, b = link.source, link.target
        if link.type != "supplier" and b < a:
            a, b = b, a
        key = (a, b, link.type)
        if key in seen:
            out.append(
                f"{link.origin}: duplicate {link.type} link {link.source}-{link.target} (first at {seen[key]})"
            )
        else:
            seen[key] = link.origin
        if link.source == link.target:
            out.append(f"{link.origin}: link from {link.source} to itself")
    return out


def check_universe(universe: Universe, today: int) -> UniverseReport:
    """Count what the universe holds and list every problem found."""
    report = UniverseReport()
    report.problems.extend(universe.problems)
    for company in universe.companies:
        if not company.sector:
            report.problems.append(f"{company.origin}: {company.symbol} has no sector")
        if not company.industry:
            report.problems.append(f"{company.origin}: {company.symbol} has no industry")
    report.problems.extend(alias_collisions(universe))
    report.problems.extend(duplicate_links(universe))
    listed = sum(1 for c in universe.companies if c.symbol_on(today) is not None)
    delisted = sum(1 for c in universe.companies if max(x.valid_to for x in c.listings) < MAX_DAY)
    renamed = sum(1 for c in universe.companies if len(c.listings) > 1)
    by_type = Counter(link.type for link in universe.links)
    report.counts = {
        "companies": len(universe.companies),
        "listed today": listed,
        "delisted": delisted,
        "renamed (former symbols)": renamed,
        "aliases": sum(len(c.aliases) for c in universe.companies),
        "links": len(universe.links),
        **{f"links: {t}": by_type.get(t, 0) for t in LINK_TYPES},
        "themes": len(universe.themes),
        "theme members": sum(len(t.members) for t in universe.themes),
        "sectors": len({c.sector for c in universe.companies}),
    }
    return report
