"""The scorer: headline text in, `Shock` out, through the compiled kernels."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.kernels.score_nb import score_batch_nb
from engine.lexicon import Lexicon, load_lexicon
from engine.news import NewsItem
from engine.paths import config_dir as default_config_dir
from engine.scoring.compile import Compiled, ScoringParams, compile_model
from engine.scoring.compiled import Output, new_output, new_workspace
from engine.scoring.shock import ROLE_NAMES, EventHit, Shock, ShockLeg
from engine.settings import ScoringSettings
from engine.text.normalize import normalize
from engine.universe import RELATIONS, Universe, load_universe

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 1_000_000_000
_EMPTY_HINTS = np.zeros(0, np.int32)


@dataclass(slots=True)
class ShockBatch:
    """Results of `Scorer.score_batch` as arrays; `shock(i)` builds the i-th `Shock`."""

    scorer: Scorer
    items: Sequence[NewsItem]
    texts: list[str]
    truncated: list[bool]
    days: np.ndarray
    out: Output

    def __len__(self) -> int:
        return len(self.items)

    def shock(self, i: int) -> Shock:
        """Build the `Shock` of headline i."""
        return self.scorer._shock_from_row(self, i)

    def shocks(self) -> list[Shock]:
        """Build every `Shock`."""
        return [self.shock(i) for i in range(len(self))]


class Scorer:
    """Scores headlines against one compiled universe and lexicon.

    Stateful only for novelty: it remembers recent headlines to damp near-duplicates.
    """

    def __init__(
        self, universe: Universe, lexicon: Lexicon, settings: ScoringSettings | None = None
    ) -> None:
        self.settings = settings or ScoringSettings()
        self.universe = universe
        self.lexicon = lexicon
        params = ScoringParams(
            min_abs=self.settings.min_abs,
            dup_distance=self.settings.duplicate_distance,
            dup_factor=self.settings.duplicate_factor,
            novelty_window_ns=int(self.settings.novelty_window_hours * 3600 * 1e9),
        )
        self.compiled: Compiled = compile_model(universe, lexicon, params)
        for problem in self.compiled.problems[:20]:
            log.warning("universe: %s", problem)
        if len(self.compiled.problems) > 20:
            log.warning("universe: %d more problems; run `spillover universe check`",
                        len(self.compiled.problems) - 20)
        self._ws = new_workspace(len(universe.companies), self.settings.novelty_ring)
        self._sources = lexicon.modifiers.source_weights
        self._source_default = lexicon.modifiers.source_default

    @classmethod
    def load(cls, config_dir: Path | None = None, settings: ScoringSettings | None = None) -> Scorer:
        """Load the universe and lexicon from `config_dir` (default: the project's `configs/`)."""
        root = config_dir or default_config_dir()
        return cls(load_universe(root / "universe"), load_lexicon(root / "lexicon"), settings)

    @property
    def threshold(self) -> float:
        """The |score| at which strategies trade a leg."""
        return self.settings.threshold

    def reset_novelty(self) -> None:
        """Forget recent headlines."""
        self._ws.ring_meta[:] = 0

    def source_weight(self, source: str) -> float:
        """Credibility multiplier of a news source (case-insensitive)."""
        if not source:
            return 1.0
        return self._sources.get(source.lower(), self._source_default)

    def score(self, item: NewsItem | str, *, novelty: bool = True) -> Shock:
        """Score one headline."""
        if isinstance(item, str):
            item = NewsItem(id="", headline=item, ts_event=_now_ns(), ts_init=_now_ns())
        return self.score_batch([item], novelty=novelty).shock(0)

    def score_batch(self, items: Sequence[NewsItem], *, novelty: bool = True) -> ShockBatch:
        """Score headlines in order (novelty sees earlier ones) and return array results."""
        max_chars = self.settings.max_chars
        texts: list[str] = []
        truncated: list[bool] = []
        for item in items:
            text, cut = normalize(item.headline, max_chars)
            texts.append(text)
            truncated.append(cut)
        encoded = [t.encode("ascii") for t in texts]
        lengths = np.fromiter((len(b) for b in encoded), np.int64, len(encoded))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        buf = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
        ts = np.fromiter((item.ts_event for item in items), np.int64, len(items))
        days = (ts // NS_PER_DAY).astype(np.int32)
        weights = np.fromiter((self.source_weight(i.source) for i in items), np.float64, len(items))
        hint_ptr = np.zeros(len(items) + 1, np.int64)
        hints: list[int] = []
        for k, item in enumerate(items):
            for sym in item.symbols:
                c = self.universe.by_symbol.get(sym.strip().upper().replace("-", "."))
                if c is not None and c not in hints[hint_ptr[k] :]:
                    hints.append(c)
            hint_ptr[k + 1] = len(hints)
        hint_co = np.array(hints, np.int32) if hints else _EMPTY_HINTS
        out = new_output(len(items), self.settings.max_shocks)
        score_batch_nb(
            self.compiled.arrays, self._ws, out, buf, starts, ends, days, ts, weights,
            hint_ptr, hint_co, novelty,
        )
        return ShockBatch(self, items, texts, truncated, days, out)

    def _symbol_on(self, company: int, day: int) -> str:
        return self.universe.companies[company].symbol_on(day) or self.compiled.company_symbols[company]

    def _shock_from_row(self, batch: ShockBatch, i: int) -> Shock:
        out, c = batch.out, self.compiled
        item, day = batch.items[i], int(batch.days[i])
        conf, novelty = float(out.confidence[i]), float(out.novelty[i])
        weight = self.source_weight(item.source)
        scale_note = ""
        if conf < 1.0:
            scale_note += f" × hedged {conf:.2f}"
        if novelty < 1.0:
            scale_note += f" × repeat {novelty:.2f}"
        if weight != 1.0:
            scale_note += f" × source {weight:.2f}"
        legs: list[ShockLeg] = []
        for k in range(int(out.n_shocks[i])):
            symbol = c.symbols[int(out.sh_symbol[i, k])]
            score = float(out.sh_score[i, k])
            role = int(out.sh_role[i, k])
            via = int(out.sh_via[i, k])
            event = int(out.sh_event[i, k])
            label = c.event_labels[event] if event >= 0 else ""
            if role <= 1:
                why = f"{ROLE_NAMES[role]} × {label}"
            elif role == len(ROLE_NAMES) - 1:
                why = f"theme '{c.theme_names[via]}'"
            else:
                why = f"{RELATIONS[role - 2]} of {self._symbol_on(via, day)} × {label}"
            legs.append(ShockLeg(symbol, score, ROLE_NAMES[role], f"{symbol} {score:+.2f}: {why}{scale_note}"))
        events = [
            EventHit(c.event_ids[e], c.event_labels[e], float(out.ev_conf[i, k]))
            for k in range(int(out.n_events[i]))
            for e in (int(out.ev_id[i, k]),)
        ]
        subjects = [self._symbol_on(int(out.sj_company[i, k]), day) for k in range(int(out.n_subjects[i]))]
        notes = []
        if batch.truncated[i]:
            notes.append(f"headline cut to {self.settings.max_chars} characters")
        return Shock(
            news_id=item.id,
            ts_event=item.ts_event,
            ts_init=item.ts_init,
            headline=batch.texts[i],
            subjects=subjects,
            events=events,
            legs=legs,
            confidence=conf,
            novelty=novelty,
            truncated=batch.truncated[i],
            notes=notes,
        )


def _now_ns() -> int:
    import time

    return time.time_ns()
