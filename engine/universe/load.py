"""Read the universe from `configs/universe/` (format: `configs/README.md`)."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any

from engine.errors import UniverseError
from engine.universe.model import (
    LINK_TYPES,
    MAX_DAY,
    MIN_DAY,
    SECTORS,
    Alias,
    Company,
    Link,
    Listing,
    Theme,
    Universe,
    day_of,
    normalize_symbol,
)

COMPANY_COLUMNS = (
    "symbol",
    "name",
    "sector",
    "industry",
    "aliases",
    "listed",
    "delisted",
    "former_symbols",
    "other_symbols",
)
LINK_COLUMNS = ("source", "target", "type", "weight", "note")


def _day(text: str, default: int, where: str) -> int:
    text = text.strip()
    if not text:
        return default
    try:
        return day_of(text)
    except ValueError:
        raise UniverseError(f"bad date {text!r}: write YYYY-MM-DD", path=where) from None


def _period(text: str, where: str) -> tuple[str, int, int]:
    """Split `NAME@from..to` (either bound may be empty) into its parts."""
    name, _, period = text.partition("@")
    if not period:
        return name.strip(), MIN_DAY, MAX_DAY
    lo, sep, hi = period.partition("..")
    if not sep:
        raise UniverseError(
            f"bad period in {text!r}: write NAME@YYYY-MM-DD..YYYY-MM-DD", path=where
        )
    return name.strip(), _day(lo, MIN_DAY, where), _day(hi, MAX_DAY, where)


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise UniverseError(
                f"missing column(s) {', '.join(missing)}; the header must be {','.join(columns)}",
                path=str(path),
                line=1,
            )
        return [(reader.line_num, row) for row in reader]


def _company(row: dict[str, str], where: str) -> Company:
    symbol = normalize_symbol(row["symbol"] or "")
    if not symbol:
        raise UniverseError("empty symbol", path=where)
    listed = _day(row["listed"] or "", MIN_DAY, where)
    delisted = _day(row["delisted"] or "", MAX_DAY, where)
    listings: list[Listing] = []
    last_end = listed - 1
    for text in _split(row["former_symbols"]):
        sym, lo, hi = _period(text, where)
        lo = max(lo, listed)
        listings.append(Listing(normalize_symbol(sym), lo, hi))
        last_end = max(last_end, hi)
    listings.append(Listing(symbol, last_end + 1 if last_end >= listed else listed, delisted))
    aliases = [Alias(*_period(text, where)) for text in _split(row["aliases"])]
    return Company(
        symbol=symbol,
        name=(row["name"] or "").strip(),
        sector=(row["sector"] or "").strip(),
        industry=(row["industry"] or "").strip(),
        aliases=aliases,
        listings=listings,
        other_symbols=[normalize_symbol(s) for s in _split(row["other_symbols"])],
        origin=where,
    )


def _load_companies(folder: Path, problems: list[str]) -> list[Company]:
    companies: list[Company] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.csv")):
        for line, row in _read_csv(path, COMPANY_COLUMNS):
            where = f"{path}:{line}"
            try:
                company = _company(row, where)
            except UniverseError as exc:
                problems.append(str(exc))
                continue
            if company.symbol in seen:
                problems.append(
                    f"{where}: duplicate symbol {company.symbol} (first at {seen[company.symbol]})"
                )
                continue
            if company.sector not in SECTORS:
                problems.append(
                    f"{where}: {company.symbol} has sector {company.sector!r}; "
                    f"use one of: {', '.join(SECTORS)}"
                )
            seen[company.symbol] = where
            companies.append(company)
    return companies


def _load_links(folder: Path, problems: list[str]) -> list[Link]:
    links: list[Link] = []
    for path in sorted(folder.glob("*.csv")):
        for line, row in _read_csv(path, LINK_COLUMNS):
            where = f"{path}:{line}"
            kind = (row["type"] or "").strip().lower()
            if kind not in LINK_TYPES:
                problems.append(f"{where}: link type {kind!r}; use one of: {', '.join(LINK_TYPES)}")
                continue
            try:
                weight = float(row["weight"] or "")
            except ValueError:
                problems.append(f"{where}: weight {row['weight']!r} is not a number")
                continue
            if not 0.0 < weight <= 1.0:
                problems.append(f"{where}: weight {weight} must be in (0, 1]")
                continue
            links.append(
                Link(
                    source=normalize_symbol(row["source"] or ""),
                    target=normalize_symbol(row["target"] or ""),
                    type=kind,
                    weight=weight,
                    note=(row["note"] or "").strip(),
                    origin=where,
                )
            )
    return links


def _load_themes(path: Path, problems: list[str]) -> list[Theme]:
    if not path.exists():
        return []
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UniverseError(f"not valid TOML: {exc}", path=str(path)) from None
    themes: list[Theme] = []
    for k, raw in enumerate(data.get("theme", [])):
        where = f"{path}: theme #{k + 1} ({raw.get('id', '?')})"
        try:
            members = {
                normalize_symbol(s): float(w) for s, w in dict(raw.get("members", {})).items()
            }
            themes.append(
                Theme(
                    id=str(raw["id"]),
                    name=str(raw.get("name", raw["id"])),
                    description=str(raw.get("description", "")),
                    polarity=float(raw.get("polarity", 0)),
                    triggers=[str(t) for t in raw.get("triggers", [])],
                    members=members,
                    strength=float(raw.get("strength", 0.5)),
                    origin=where,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: {exc!r}")
    return themes


def _word_list(path: Path) -> list[str]:
    """Non-empty lines of a text file, with `#` comments removed; empty if there is no file."""
    if not path.exists():
        return []
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def load_universe(root: Path) -> Universe:
    """Load companies/, links/, themes.toml, ticker_stopwords.txt and not_companies.txt from `root`.

    Rows that cannot be used are skipped and described in `Universe.problems`; a file that
    cannot be read at all raises `UniverseError`.
    """
    if not (root / "companies").is_dir():
        raise UniverseError(
            "no companies/ folder: point the config dir at configs/", path=str(root)
        )
    problems: list[str] = []
    companies = _load_companies(root / "companies", problems)
    links = _load_links(root / "links", problems) if (root / "links").is_dir() else []
    themes = _load_themes(root / "themes.toml", problems)
    stopwords = frozenset(s.upper() for s in _word_list(root / "ticker_stopwords.txt"))
    universe = Universe(
        companies,
        links,
        themes,
        stopwords,
        problems,
        not_companies=_word_list(root / "not_companies.txt"),
    )
    for link in links:
        for sym in (link.source, link.target):
            if universe.find(sym) is None:
                problems.append(f"{link.origin}: unknown symbol {sym} in link")
    for theme in themes:
        for sym in theme.members:
            if universe.find(sym) is None:
                problems.append(f"{theme.origin}: unknown member symbol {sym}")
    return universe
