"""Directional accuracy of the scorer on labelled cases (`spillover eval`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.errors import InputError
from engine.news import news_from_mapping
from engine.scoring.scorer import Scorer


@dataclass(slots=True)
class Case:
    """A labelled headline: expected move signs, and symbols that should not trade."""

    id: str
    created_at: str
    headline: str
    expect: dict[str, int]
    neutral: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PairResult:
    """One (case, symbol) pair: what was expected and what was scored."""

    symbol: str
    expected: int
    score: float
    ok: bool
    known: bool = True


@dataclass(slots=True)
class CaseResult:
    """A case's pairs, neutral checks, and what the scorer saw."""

    case: Case
    pairs: list[PairResult]
    neutrals: list[PairResult]
    subjects: list[str]
    events: list[str]


@dataclass(slots=True)
class EvalReport:
    """Totals over all cases."""

    threshold: float
    cases: list[CaseResult]

    @property
    def pairs(self) -> int:
        return sum(len(c.pairs) for c in self.cases)

    @property
    def correct(self) -> int:
        return sum(p.ok for c in self.cases for p in c.pairs)

    @property
    def accuracy(self) -> float:
        return self.correct / self.pairs if self.pairs else 0.0

    @property
    def neutral_pairs(self) -> int:
        return sum(len(c.neutrals) for c in self.cases)

    @property
    def neutral_false_positives(self) -> int:
        return sum(not p.ok for c in self.cases for p in c.neutrals)

    def summary(self) -> dict[str, Any]:
        """The figures `spillover eval --json` prints."""
        return {
            "pairs": self.pairs,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            "neutral_pairs": self.neutral_pairs,
            "neutral_false_positives": self.neutral_false_positives,
            "threshold": self.threshold,
        }


def read_cases(path: Path) -> list[Case]:
    """Read a case file (JSON lines); raise `InputError` naming the line that is wrong."""
    cases: list[Case] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            expect = {str(k): int(v) for k, v in dict(obj.get("expect") or {}).items()}
            if any(v not in (-1, 1) for v in expect.values()):
                raise ValueError("expect values must be +1 or -1")
            cases.append(
                Case(
                    id=str(obj.get("id", f"line-{n}")),
                    created_at=str(obj["created_at"]),
                    headline=str(obj["headline"]),
                    expect=expect,
                    neutral=[str(s) for s in obj.get("neutral") or []],
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{path}:{n}: not a case ({exc}); see ../shared/examples/README.md"
            ) from None
    return cases


def evaluate(scorer: Scorer, cases: list[Case], threshold: float | None = None) -> EvalReport:
    """Score each case on its own (no novelty across cases) and compare with its labels."""
    threshold = scorer.threshold if threshold is None else threshold
    results: list[CaseResult] = []
    find = scorer.universe.find
    for case in cases:
        item = news_from_mapping(
            {"id": case.id, "headline": case.headline, "created_at": case.created_at}
        )
        shock = scorer.score(item, novelty=False)
        by_company: dict[str, float] = {}
        for leg in shock.legs:
            company = find(leg.symbol)
            by_company[company.symbol if company else leg.symbol] = leg.score

        def score_for(symbol: str, scores: dict[str, float] = by_company) -> tuple[float, bool]:
            company = find(symbol)
            if company is None:
                return 0.0, False
            return scores.get(company.symbol, 0.0), True

        pairs = []
        for symbol, sign in case.expect.items():
            score, known = score_for(symbol)
            ok = abs(score) >= threshold and (score > 0) == (sign > 0)
            pairs.append(PairResult(symbol, sign, score, ok, known))
        neutrals = []
        for symbol in case.neutral:
            score, known = score_for(symbol)
            neutrals.append(PairResult(symbol, 0, score, abs(score) < threshold, known))
        results.append(
            CaseResult(case, pairs, neutrals, shock.subjects, [e.id for e in shock.events])
        )
    return EvalReport(threshold, results)
