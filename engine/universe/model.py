"""Plain data types of the universe."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

SECTORS = (
    "Information Technology",
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Materials",
    "Real Estate",
    "Utilities",
)
LINK_TYPES = ("competitor", "supplier", "partner", "peer")
# Relations as seen from one company: what the neighbour is to it. Codes are kernel constants.
RELATIONS = ("competitor", "supplier", "customer", "partner", "peer")

MIN_DAY = -1_000_000
MAX_DAY = 1_000_000
_EPOCH = dt.date(1970, 1, 1)
_LEGAL_SUFFIX = re.compile(
    r",?\s+(inc\.?|incorporated|corp\.?|corporation|co\.?|company|plc|p\.l\.c\.|ltd\.?|limited|"
    r"n\.v\.|s\.a\.|ag|se|llc|l\.p\.|lp|sa/nv|s\.a\.b\. de c\.v\.)\s*$",
    re.IGNORECASE,
)


def day_of(value: dt.date | dt.datetime | str) -> int:
    """Return days since 1970-01-01 for a date, a datetime (its UTC date) or `YYYY-MM-DD`."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        value = value.date()
    return (value - _EPOCH).days


@dataclass(frozen=True, slots=True)
class Alias:
    """A name a headline may use for a company, valid between two days (inclusive)."""

    text: str
    valid_from: int = MIN_DAY
    valid_to: int = MAX_DAY


@dataclass(frozen=True, slots=True)
class Listing:
    """A ticker a company traded under between two days (inclusive)."""

    symbol: str
    valid_from: int
    valid_to: int


@dataclass(slots=True)
class Company:
    """One company: its id is its current (or last) primary symbol."""

    symbol: str
    name: str
    sector: str
    industry: str
    aliases: list[Alias]
    listings: list[Listing]
    other_symbols: list[str]
    origin: str = ""

    def names(self) -> list[Alias]:
        """Every name a headline may use: the company's own names, then its aliases.

        An alias written with the same text as a derived name (and its own period) replaces it.
        Where two companies share a name, the one whose period started last wins (an acquirer's
        `Splunk@2024-03-18..` beats Splunk's own name from that day), so names of delisted
        companies keep working for news about their fall and its spillover.
        """
        written = {a.text.lower() for a in self.aliases}
        own = [
            Alias(t)
            for t in name_variants(self.name)
            if t.lower() not in written
            and len(re.findall(r"[A-Za-z0-9]+", t)) <= 8  # long: short form
        ]
        return own + self.aliases

    def symbol_on(self, day: int) -> str | None:
        """Return the ticker the company traded under on `day`, or None."""
        for listing in self.listings:
            if listing.valid_from <= day <= listing.valid_to:
                return listing.symbol
        return None


@dataclass(frozen=True, slots=True)
class Link:
    """A typed, weighted relation between two companies."""

    source: str
    target: str
    type: str
    weight: float
    note: str = ""
    origin: str = ""


@dataclass(slots=True)
class Theme:
    """A group of companies a market narrative moves together."""

    id: str
    name: str
    description: str
    polarity: float
    triggers: list[str]
    members: dict[str, float]
    strength: float = 0.5
    origin: str = ""


@dataclass(slots=True)
class Universe:
    """Companies, links and themes, with the problems found while loading them."""

    companies: list[Company]
    links: list[Link]
    themes: list[Theme]
    ticker_stopwords: frozenset[str]
    problems: list[str] = field(default_factory=list)
    not_companies: list[str] = field(default_factory=list)
    by_symbol: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_symbol:
            self.reindex()

    def reindex(self) -> None:
        """Map every symbol a company ever used (primary, former, other classes) to its index."""
        index: dict[str, int] = {}
        for i, company in enumerate(self.companies):
            names = [company.symbol, *company.other_symbols, *(x.symbol for x in company.listings)]
            for name in names:
                index.setdefault(normalize_symbol(name), i)
        for i, company in enumerate(self.companies):
            index[normalize_symbol(company.symbol)] = i
        self.by_symbol = index

    def graph_links(self, industry_peer_weight: float = 0.0, max_industry: int = 60) -> list[Link]:
        """The links the scorer propagates along: the written ones, plus, when
        `industry_peer_weight` > 0, a `peer` link of that weight between every two companies of
        the same industry (of at most `max_industry` members) that no written link joins.
        """
        if industry_peer_weight <= 0:
            return self.links
        linked = {frozenset((x.source, x.target)) for x in self.links}
        by_industry: dict[str, list[str]] = {}
        for company in self.companies:
            if company.industry:
                by_industry.setdefault(company.industry.lower(), []).append(company.symbol)
        implicit = []
        for members in by_industry.values():
            if len(members) > max_industry:
                continue
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    if frozenset((a, b)) not in linked:
                        implicit.append(Link(a, b, "peer", industry_peer_weight, "same industry"))
        return self.links + implicit

    def find(self, symbol: str) -> Company | None:
        """Return the company that uses or used `symbol` (`BRK-A`, `brk.a` alike), or None."""
        i = self.by_symbol.get(normalize_symbol(symbol))
        return None if i is None else self.companies[i]


def normalize_symbol(symbol: str) -> str:
    """Upper-case a ticker and write class separators as dots (`brk-b` → `BRK.B`)."""
    return symbol.strip().upper().replace("-", ".").replace("/", ".")


def name_variants(name: str) -> list[str]:
    """The full name and the name without legal suffixes or a leading 'The'.

    A one-word short form is kept only when it looks coined (`NVR`, `3M`, `ImmunoGen`): a plain
    capitalised word ("News" of News Corp, "Block", "Southern") must be listed as an alias on
    purpose, where a human has judged it unambiguous.
    """
    out = [name]
    short = name
    while True:
        stripped = _LEGAL_SUFFIX.sub("", short).strip().rstrip(",")
        if stripped == short:
            break
        short = stripped
    if short.lower().startswith("the "):
        short = short[4:]
    if short and short not in out and (len(short.split()) > 1 or _coined(short)):
        out.append(short)
    return out


def _coined(word: str) -> bool:
    """An acronym, a word with digits or dots, or one with a capital inside (McAfee)."""
    letters = [c for c in word if c.isalpha()]
    return (
        word.isupper()
        or any(c.isdigit() or c == "." for c in word)
        or any(c.isupper() for c in letters[1:])
    )
