"""Read `configs/lexicon/events.toml` and `modifiers.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import LexiconError
from engine.universe.model import RELATIONS


@dataclass(slots=True)
class EventType:
    """How one kind of news moves its subject, its object and, through links, others."""

    id: str
    label: str
    description: str
    strength: float
    subject: float
    object: float
    cancel_on_negation: bool
    propagate: dict[str, float]
    propagate_object: dict[str, float]
    patterns: list[str]
    patterns_passive: list[str] = field(default_factory=list)
    overridden_by: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Modifiers:
    """Hedges, negators, clause boundaries and source credibility."""

    hedges: dict[str, float]
    negations: list[str]
    negation_window: int
    boundaries: list[str]
    source_default: float
    source_weights: dict[str, float]


@dataclass(slots=True)
class Lexicon:
    """Event types and modifiers."""

    events: list[EventType]
    modifiers: Modifiers


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise LexiconError("file not found", path=str(path))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"not valid TOML: {exc}", path=str(path)) from None


def _relations(raw: Any, where: str) -> dict[str, float]:
    table = dict(raw or {})
    unknown = set(table) - set(RELATIONS)
    if unknown:
        raise LexiconError(
            f"unknown relation(s) {sorted(unknown)} in propagate; use {', '.join(RELATIONS)}",
            path=where,
        )
    return {rel: float(table.get(rel, 0.0)) for rel in RELATIONS}


def _event(raw: dict[str, Any], where: str) -> EventType:
    try:
        event_id = str(raw["id"])
        strength = float(raw["strength"])
        subject = float(raw.get("subject", 1.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise LexiconError(
            f"needs id, strength (number) and subject: {exc!r}", path=where
        ) from None
    if not 0.0 < strength <= 1.0:
        raise LexiconError(f"{event_id}: strength {strength} must be in (0, 1]", path=where)
    negation = str(raw.get("negation", "flip"))
    if negation not in ("flip", "cancel"):
        raise LexiconError(
            f"{event_id}: negation {negation!r} must be 'flip' or 'cancel'", path=where
        )
    propagate = _relations(raw.get("propagate"), where)
    return EventType(
        id=event_id,
        label=str(raw.get("label", event_id.replace("_", " "))),
        description=str(raw.get("description", "")),
        strength=strength,
        subject=subject,
        object=float(raw.get("object", subject)),
        cancel_on_negation=negation == "cancel",
        propagate=propagate,
        propagate_object=_relations(raw["propagate_object"], where)
        if "propagate_object" in raw
        else dict(propagate),
        patterns=[str(p) for p in raw.get("patterns", [])],
        patterns_passive=[str(p) for p in raw.get("patterns_passive", [])],
        overridden_by=[str(x) for x in raw.get("overridden_by", [])],
    )


def load_lexicon(root: Path) -> Lexicon:
    """Load `root/events.toml` and `root/modifiers.toml`; raise `LexiconError` on a bad entry."""
    events_path = root / "events.toml"
    data = _read_toml(events_path)
    events: list[EventType] = []
    seen: set[str] = set()
    for k, raw in enumerate(data.get("event", [])):
        event = _event(raw, f"{events_path}: event #{k + 1} ({raw.get('id', '?')})")
        if event.id in seen:
            raise LexiconError(f"duplicate event id {event.id!r}", path=str(events_path))
        seen.add(event.id)
        events.append(event)
    for event in events:
        unknown = [x for x in event.overridden_by if x not in seen]
        if unknown:
            raise LexiconError(
                f"{event.id}: overridden_by names unknown event(s) {unknown}", path=str(events_path)
            )
    mods_path = root / "modifiers.toml"
    mods = _read_toml(mods_path)
    hedge = dict(mods.get("hedge", {}).get("patterns", {}))
    negation = dict(mods.get("negation", {}))
    source = dict(mods.get("source", {}))
    modifiers = Modifiers(
        hedges={str(p): float(w) for p, w in hedge.items()},
        negations=[str(p) for p in negation.get("patterns", [])],
        negation_window=int(negation.get("window", 3)),
        boundaries=[str(p) for p in dict(mods.get("boundary", {})).get("patterns", [])],
        source_default=float(source.get("default", 1.0)),
        source_weights={
            str(k).lower(): float(v) for k, v in dict(source.get("weights", {})).items()
        },
    )
    return Lexicon(events=events, modifiers=modifiers)
