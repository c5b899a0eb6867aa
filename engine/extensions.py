"""Scoring extensions from plugins: data packs and scorer stages, found by entry point.

Two entry-point groups, loaded once per process (like strategies; a broken one is skipped with
its name and reason logged, the others still load):

- `spillover.data`: `name = "module:attr"`, where `attr` is a folder (a `str` or `Path`, or a
  callable returning one) laid out like `configs/`, every part optional::

      universe/companies/*.csv   more companies (same columns as configs/universe/companies)
      universe/links/*.csv       more links (between any companies, shipped or added)
      universe/themes.toml       more themes
      lexicon/events.toml        more event types (new ids only)

  Packs are merged into the shipped data in name order when `Scorer.load` builds a scorer. A
  company whose symbol exists already is skipped and reported as a universe problem.

- `spillover.scorers`: `name = "module:Class"`, a `ScorerStage` subclass. After the built-in
  scoring, each stage gets the `Shock` and the `NewsItem` and returns a `Shock` (the same or a
  changed copy); stages run in `(order, name)` order, so the order is defined and stable.
  Stages see every shock a `Scorer` builds (`score`, `score_batch(...).shock(i)`), so backtests,
  the daemon and `spillover score` agree; the sweep's array fast path does not run them.

Set `SPILLOVER_NO_EXTENSIONS=1` to load the shipped data only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from engine.errors import LexiconError
from engine.lexicon.load import Lexicon, _event, _read_toml
from engine.news import NewsItem
from engine.scoring.shock import Shock
from engine.universe.load import _load_companies, _load_links, _load_themes
from engine.universe.model import Universe

DATA_GROUP = "spillover.data"
SCORER_GROUP = "spillover.scorers"

log = logging.getLogger(__name__)


class ScorerStage:
    """Subclass, set `order` (lower runs first; built-in scoring is 0) and implement `__call__`."""

    order: ClassVar[int] = 100

    def __call__(self, shock: Shock, item: NewsItem) -> Shock:
        """Return the shock to pass on: `shock` itself, or a changed copy (`msgspec.structs.replace`)."""
        return shock


@dataclass(frozen=True, slots=True)
class Extension:
    """One registered data pack or scorer stage; `error` says why it could not be used."""

    group: str
    name: str
    target: str
    value: Any = None
    error: str = ""


_found: dict[str, list[Extension]] = {}


def clear_extension_cache() -> None:
    """Forget the loaded extensions (tests; after installing a plugin in a running process)."""
    _found.clear()


def _enabled() -> bool:
    return os.environ.get("SPILLOVER_NO_EXTENSIONS", "") in ("", "0")


def discover_extensions(group: str) -> list[Extension]:
    """Load the data packs (`spillover.data`) or stages (`spillover.scorers`), once, by name."""
    if group in _found:
        return _found[group]
    found: list[Extension] = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            value = ep.load()
            if group == DATA_GROUP:
                value = Path(value() if callable(value) else value)
                if not value.is_dir():
                    raise FileNotFoundError(f"{value} is not a folder")
            elif isinstance(value, type) and issubclass(value, ScorerStage):
                value = value()
            else:
                raise TypeError("not a subclass of engine.extensions.ScorerStage")
        except Exception as exc:  # a plugin may fail in any way; name it and go on
            log.warning("extension %s %r (%s) skipped: %s", group, ep.name, ep.value, exc)
            found.append(Extension(group, ep.name, ep.value, error=f"{type(exc).__name__}: {exc}"))
        else:
            found.append(Extension(group, ep.name, ep.value, value))
    if group == SCORER_GROUP:
        found.sort(key=lambda e: (e.value.order if e.value is not None else 0, e.name))
    _found[group] = found
    return found


def data_folders() -> list[Path]:
    """Folders of the installed data packs, in name order (none when extensions are off)."""
    if not _enabled():
        return []
    return [e.value for e in discover_extensions(DATA_GROUP) if not e.error]


def scorer_stages() -> list[ScorerStage]:
    """The installed stages in the order they run (none when extensions are off)."""
    if not _enabled():
        return []
    return [e.value for e in discover_extensions(SCORER_GROUP) if not e.error]


def extend_universe(universe: Universe, folders: list[Path]) -> Universe:
    """The universe with each folder's `universe/` companies, links and themes added."""
    if not folders:
        return universe
    problems = list(universe.problems)
    companies, links, themes = list(universe.companies), list(universe.links), list(universe.themes)
    known = {c.symbol for c in companies}
    for folder in folders:
        root = folder / "universe"
        if (root / "companies").is_dir():
            for company in _load_companies(root / "companies", problems):
                if company.symbol in known:
                    problems.append(f"{company.origin}: {company.symbol} exists already; skipped")
                    continue
                known.add(company.symbol)
                companies.append(company)
        if (root / "links").is_dir():
            links.extend(_load_links(root / "links", problems))
        themes.extend(_load_themes(root / "themes.toml", problems))
    merged = Universe(
        companies, links, themes, universe.ticker_stopwords, problems,
        not_companies=universe.not_companies,
    )  # fmt: skip
    for link in links[len(universe.links) :]:
        for sym in (link.source, link.target):
            if merged.find(sym) is None:
                problems.append(f"{link.origin}: unknown symbol {sym} in link")
    return merged


def extend_lexicon(lexicon: Lexicon, folders: list[Path]) -> Lexicon:
    """The lexicon with each folder's `lexicon/events.toml` event types added (new ids only)."""
    events = list(lexicon.events)
    seen = {e.id for e in events}
    for folder in folders:
        path = folder / "lexicon" / "events.toml"
        if not path.exists():
            continue
        for k, raw in enumerate(_read_toml(path).get("event", [])):
            event = _event(raw, f"{path}: event #{k + 1} ({raw.get('id', '?')})")
            if event.id in seen:
                raise LexiconError(f"event id {event.id!r} exists already", path=str(path))
            seen.add(event.id)
            events.append(event)
    return replace(lexicon, events=events) if len(events) > len(lexicon.events) else lexicon
