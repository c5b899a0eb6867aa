"""What the scorer produces: a `Shock` per headline, each leg with its explanation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

ROLE_NAMES = ("subject", "object", "competitor", "supplier", "customer", "partner", "peer", "theme")


class ShockLeg(msgspec.Struct, frozen=True, gc=False):
    """One symbol's score in [-1, 1] and how its largest part reached it.

    `role` is how the symbol was hit (`subject`, `object`, a relation such as `supplier`, or
    `theme`); `via` the company it is related to (or the theme's name); `event` the event's label;
    `scale` how the headline as a whole was scaled (" × hedged 0.75").
    """

    symbol: str
    score: float
    role: str
    via: str = ""
    event: str = ""
    scale: str = ""

    @property
    def why(self) -> str:
        """E.g. `supplier of META × capacity sale`."""
        if self.role in ("subject", "object"):
            return f"{self.role} × {self.event}"
        if self.role == "theme":
            return f"theme '{self.via}'"
        return f"{self.role} of {self.via} × {self.event}"

    @property
    def path(self) -> str:
        """The explanation, e.g. `CRWV -0.62: supplier of META × capacity sale × hedged 0.75`."""
        return f"{self.symbol} {self.score:+.2f}: {self.why}{self.scale}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape `{"symbol", "score", "role", "path"}`."""
        return {
            "symbol": self.symbol,
            "score": round(self.score, 4),
            "role": self.role,
            "path": self.path,
        }


class EventHit(msgspec.Struct, frozen=True, gc=False):
    """An event type recognised in the headline, with its confidence (sign: negated if < 0)."""

    id: str
    label: str
    confidence: float


class Shock(msgspec.Struct, frozen=True, kw_only=True):
    """The scored headline: subjects, events and per-symbol legs sorted by |score|."""

    news_id: str
    ts_event: int
    ts_init: int
    headline: str
    subjects: list[str]
    events: list[EventHit]
    legs: list[ShockLeg]
    confidence: float = 1.0
    novelty: float = 1.0
    truncated: bool = False
    notes: list[str] = msgspec.field(default_factory=list)

    def score_of(self, symbol: str) -> float:
        """Return the score of `symbol`, 0.0 when the shock does not reach it."""
        for leg in self.legs:
            if leg.symbol == symbol:
                return leg.score
        return 0.0

    def tradable(self, threshold: float) -> list[ShockLeg]:
        """Legs with |score| at or above `threshold`."""
        return [leg for leg in self.legs if abs(leg.score) >= threshold]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of `spillover score --json`."""
        created = dt.datetime.fromtimestamp(self.ts_event / 1e9, tz=dt.UTC)
        out: dict[str, Any] = {
            "id": self.news_id,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "subjects": self.subjects,
            "events": [e.id for e in self.events],
            "shocks": [leg.to_dict() for leg in self.legs],
            "confidence": round(self.confidence, 4),
            "novelty": round(self.novelty, 4),
        }
        if self.truncated:
            out["truncated"] = True
        if self.notes:
            out["notes"] = self.notes
        return out
