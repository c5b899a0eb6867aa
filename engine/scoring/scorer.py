"""The scorer: headline text in, `Shock` out, through the compiled kernels."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.kernels.layout import (
    MAX_EVENTS_OUT,
    MAX_SUBJECTS_OUT,
    Output,
    new_output,
    new_workspace,
    output_spec,
)
from engine.kernels.score_nb import score_batch_nb
from engine.lexicon import Lexicon, load_lexicon
from engine.news import NewsItem
from engine.paths import config_dir as default_config_dir
from engine.scoring.arena import Packed, alloc, pack
from engine.scoring.compile import Compiled, ScoringParams, compile_model
from engine.scoring.shock import ROLE_NAMES, EventHit, Shock, ShockLeg
from engine.settings import ScoringSettings
from engine.text.normalize import normalize
from engine.universe import Universe, load_universe
from engine.universe.model import normalize_symbol

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 1_000_000_000
_EMPTY_HINTS = np.zeros(0, np.int32)
_DAY_SHIFT = 1 << 31  # days since 1970 fit in 32 bits once shifted, before 1970 too


@dataclass(slots=True)
class ShockBatch:
    """Results of `Scorer.score_batch` as arrays; `shock(i)` builds the i-th `Shock`."""

    scorer: Scorer
    items: Sequence[NewsItem]
    texts: list[str]
    truncated: list[bool]
    days: np.ndarray
    packed: Packed
    weights: list[float]  # each headline's source weight
    _built: list[Shock] | None = None  # every row's shock, built in one go (first `shock`)

    @property
    def out(self) -> Output:
        """Flat result arrays (row i of a (n, k) table is `[i * k : (i + 1) * k]`)."""
        return self.packed.views  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self.items)

    def shock(self, i: int) -> Shock:
        """The `Shock` of headline i (extension stages applied)."""
        built = self._built
        if built is None:
            built = self._built = self.scorer._batch_shocks(self)
        if self.scorer.stages:
            return self.scorer._staged(built[i], self.items[i])
        return built[i]

    def shocks(self) -> list[Shock]:
        """Build every `Shock`."""
        return [self.shock(i) for i in range(len(self))]


def _compact(
    out_n: np.ndarray, width: int, *columns: np.ndarray
) -> tuple[list[int], list[np.ndarray]]:
    """The first `out_n[i]` entries of each row of (rows, width) `columns`, rows one after
    another, and where each row starts."""
    n = out_n.astype(np.int64)
    keep = (np.arange(width) < n[:, None]).ravel()
    ptr = np.zeros(n.shape[0] + 1, np.int64)
    np.cumsum(n, out=ptr[1:])
    return ptr.tolist(), [c[: keep.shape[0]][keep] for c in columns]


@dataclass(slots=True)
class _SingleBuffers:
    """Inputs and output of `Scorer.score`, allocated once."""

    out: Packed
    rows: np.ndarray = field(default_factory=lambda: np.zeros(5, np.int64))
    weights: np.ndarray = field(default_factory=lambda: np.ones(1, np.float64))
    hints: np.ndarray = field(default_factory=lambda: np.zeros(16, np.int32))


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
            industry_peer_weight=self.settings.industry_peer_weight,
        )
        self.compiled: Compiled = compile_model(universe, lexicon, params)
        if self.compiled.problems:
            log.warning(
                "the universe has %d problem(s), first: %s; run `spillover universe check`",
                len(self.compiled.problems),
                self.compiled.problems[0],
            )
        self._model = pack(self.compiled.arrays)
        self._ws = pack(new_workspace(len(universe.companies), self.settings.novelty_ring))
        self._one = _SingleBuffers(pack(new_output(1, self.settings.max_shocks)))
        self._names_by_day: dict[int, list[str | None]] = {}  # see `_names_on`
        # a company whose listings all carry its own symbol has that symbol on every day
        self._symbol_of = np.array(self.compiled.company_symbols, dtype=object)
        self._one_symbol = np.array(
            [all(x.symbol == c.symbol for x in c.listings) for c in universe.companies], bool
        )
        self._sources = lexicon.modifiers.source_weights
        self._source_default = lexicon.modifiers.source_default
        self.stages: list[Any] = []  # engine.extensions.ScorerStage, run in order on each shock

    @classmethod
    def load(
        cls, config_dir: Path | None = None, settings: ScoringSettings | None = None
    ) -> Scorer:
        """Load the universe and lexicon from `config_dir` (default: the project's `configs/`).

        Installed scoring extensions join in (see `engine.extensions`): data packs add to the
        universe and lexicon, and scorer stages run on every shock, in their defined order.
        """
        from engine.extensions import data_folders, extend_lexicon, extend_universe, scorer_stages

        root = config_dir or default_config_dir()
        folders = data_folders()
        universe = extend_universe(load_universe(root / "universe"), folders)
        scorer = cls(universe, extend_lexicon(load_lexicon(root / "lexicon"), folders), settings)
        scorer.stages = scorer_stages()
        return scorer

    @property
    def threshold(self) -> float:
        """The |score| at which strategies trade a leg."""
        return self.settings.threshold

    def reset_novelty(self) -> None:
        """Forget recent headlines."""
        self._ws.views.ring_meta[:] = 0

    def source_weight(self, source: str) -> float:
        """Credibility multiplier of a news source (case-insensitive)."""
        if not source:
            return 1.0
        return self._sources.get(source.lower(), self._source_default)

    def score(self, item: NewsItem | str, *, novelty: bool = True) -> Shock:
        """Score one headline (the low-latency path: buffers are reused between calls)."""
        if isinstance(item, str):
            now = time.time_ns()
            item = NewsItem(id="", headline=item, ts_event=now, ts_init=now)
        return self._staged(self._score_one(item, novelty), item)

    def touch(self) -> int:
        """Read one byte of every 64-byte cache line of the model's, the workspace's and the
        one-headline output's arenas (about 1.2 MB, 20 µs), pulling them into the CPU's
        caches; the sum is only there so the reads happen."""
        arenas = (self._model.arena, self._ws.arena, self._one.out.arena)
        return sum(int(arena[::64].sum()) for arena in arenas)

    def rehearse(self, item: NewsItem) -> Shock:
        """Score `item` as `score` does, leaving no trace: novelty neither reads nor remembers
        it, and extension stages do not run. The daemon calls this on a canned headline while
        it waits, so the kernels' tables and code are still in the CPU's caches when a real
        headline comes (see `engine.live.warm`)."""
        return self._score_one(item, False)

    def _score_one(self, item: NewsItem, novelty: bool) -> Shock:
        text, cut = normalize(item.headline, self.settings.max_chars)
        one = self._one
        rows = one.rows
        rows[1] = len(text)
        rows[2] = item.ts_event // NS_PER_DAY
        rows[3] = item.ts_event
        one.weights[0] = self.source_weight(item.source)
        hints = self._hint_companies(item.symbols)[: one.hints.shape[0]]
        one.hints[: len(hints)] = hints
        rows[4] = len(hints)
        m, ws, out = self._model, self._ws, one.out
        score_batch_nb(
            m.arena, m.idx, m.ints, m.floats, ws.arena, ws.idx, out.arena, out.idx,
            np.frombuffer(text.encode("ascii") or b"\0", np.uint8), rows, one.hints, one.weights,
            novelty,
        )  # fmt: skip
        batch = ShockBatch(self, (item,), [text], [cut], rows[2:3], out, [one.weights.item(0)])
        return self._shock_from_row(batch, 0)

    def _staged(self, shock: Shock, item: NewsItem) -> Shock:
        for stage in self.stages:
            shock = stage(shock, item)
        return shock

    def score_batch(self, items: Sequence[NewsItem], *, novelty: bool = True) -> ShockBatch:
        """Score headlines in order (novelty sees earlier ones) and return array results."""
        max_chars = self.settings.max_chars
        texts: list[str] = []
        truncated: list[bool] = []
        stamps: list[int] = []
        weights_list: list[float] = []
        hints: list[int] = []
        hint_ends: list[int] = []
        # most headlines of a batch share their source and their symbols: each is looked up once
        weight_of: dict[str, float] = {}
        hints_of: dict[tuple[str, ...], list[int]] = {}
        for item in items:
            text, cut = normalize(item.headline, max_chars)
            texts.append(text)
            truncated.append(cut)
            stamps.append(item.ts_event)
            weight = weight_of.get(item.source)
            if weight is None:
                weight = weight_of[item.source] = self.source_weight(item.source)
            weights_list.append(weight)
            key = tuple(item.symbols)
            found = hints_of.get(key)
            if found is None:
                found = hints_of[key] = self._hint_companies(item.symbols)
            hints.extend(found)
            hint_ends.append(len(hints))
        encoded = [t.encode("ascii") for t in texts]
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        buf = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
        ts = np.array(stamps, np.int64)
        days = (ts // NS_PER_DAY).astype(np.int32)
        weights = np.array(weights_list, np.float64)
        hint_end = np.array(hint_ends, np.int64)
        rows = np.stack([starts, ends, days.astype(np.int64), ts, hint_end], axis=1).ravel()
        hint_co = np.array(hints, np.int32) if hints else _EMPTY_HINTS
        out = alloc(
            Output, [(f, dt, k * len(items)) for f, dt, k in output_spec(self.settings.max_shocks)]
        )
        m, ws = self._model, self._ws
        score_batch_nb(
            m.arena, m.idx, m.ints, m.floats, ws.arena, ws.idx, out.arena, out.idx,
            buf, rows, hint_co, weights, novelty,
        )  # fmt: skip
        return ShockBatch(self, items, texts, truncated, days, out, weights_list)

    def _hint_companies(self, symbols: list[str]) -> list[int]:
        """Companies of a news item's `symbols` field, known ones only, once each."""
        found: list[int] = []
        for sym in symbols:
            c = self.universe.by_symbol.get(normalize_symbol(sym))
            if c is not None and c not in found:
                found.append(c)
        return found

    def _names_on(self, day: int) -> list[str | None]:
        """Companies' symbols on `day` by company index, filled in by `_symbol_on` as they are
        asked for (None where not yet): the one-headline path reads names here by index."""
        names = self._names_by_day.get(day)
        if names is None:
            if len(self._names_by_day) >= 256:
                self._names_by_day.clear()
            names = self._names_by_day[day] = [None] * len(self.compiled.company_symbols)
        return names

    def _symbol_on(self, company: int, day: int) -> str:
        names = self._names_on(day)
        symbol = names[company]
        if symbol is None:
            symbol = names[company] = (
                self.universe.companies[company].symbol_on(day)
                or self.compiled.company_symbols[company]
            )
        return symbol

    def _symbols_on(self, companies: np.ndarray, days: np.ndarray) -> list[str]:
        """`_symbol_on` of many (company, day) pairs: companies with one symbol for all days
        by index, the others asked once per distinct pair."""
        if companies.shape[0] == 0:
            return []
        names = self._symbol_of[companies]
        varies = ~self._one_symbol[companies]
        if varies.any():
            # one int64 per pair: the company above 32 bits, the day (shifted to be >= 0) below
            pairs = companies[varies].astype(np.int64) << 32 | (
                days[varies].astype(np.int64) + _DAY_SHIFT
            )
            unique, inverse = np.unique(pairs, return_inverse=True)
            symbol_on = self._symbol_on
            found = np.array(
                [symbol_on(p >> 32, (p & 0xFFFFFFFF) - _DAY_SHIFT) for p in unique.tolist()],
                dtype=object,
            )
            names[varies] = found[inverse]
        return names.tolist()  # type: ignore[no-any-return]

    def _scale_note(self, conf: float, novelty: float, weight: float) -> str:
        note = ""
        if conf < 1.0:
            note += f" × hedged {conf:.2f}"
        if novelty < 1.0:
            note += f" × repeat {novelty:.2f}"
        if weight != 1.0:
            note += f" × source {weight:.2f}"
        return note

    def _via_names(self, roles: list[int], vias: list[int], day: int) -> list[str]:
        """What each leg came through: "" (subject, object), the theme, or the related
        company's symbol on the headline's day."""
        themes, names, symbol_on = self.compiled.theme_names, self._names_on(day), self._symbol_on
        theme_role = len(ROLE_NAMES) - 1
        return [
            ""
            if role <= 1
            else themes[via]
            if role == theme_role
            else names[via] or symbol_on(via, day)
            for role, via in zip(roles, vias, strict=True)
        ]

    def _batch_events(
        self, ptr: list[int], ids: np.ndarray, confs: np.ndarray
    ) -> tuple[list[EventHit], list[int]]:
        """`_events` of every row at once (row i's entries are `ptr[i]:ptr[i + 1]`): the hits
        one after another, and where each row's start. The same hits in the same order: per
        row and event type the strongest entry (the first of equals), in the order the types
        first appear; entries with no strength (0 or NaN) left out."""
        c, n = self.compiled, len(ptr) - 1
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
        strength = np.abs(confs)
        kept = np.flatnonzero(strength > 0)
        key = rows[kept] * (len(c.event_ids) + 1) + ids[kept]
        # by type within a row: the strongest (first of equals) and where the type first came
        strongest = kept[np.lexsort((kept, -strength[kept], key))]
        by_key = np.lexsort((kept, key))
        first, sorted_key = kept[by_key], key[by_key]
        group = np.ones(sorted_key.shape[0], bool)
        group[1:] = sorted_key[1:] != sorted_key[:-1]
        chosen = strongest[group][np.argsort(first[group], kind="stable")]
        e = ids[chosen]
        hits = list(
            map(
                EventHit,
                np.array(c.event_ids, dtype=object)[e].tolist(),
                np.array(c.event_labels, dtype=object)[e].tolist(),
                confs[chosen].tolist(),
            )
        )
        hit_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(rows[chosen], minlength=n), out=hit_ptr[1:])
        return hits, hit_ptr.tolist()

    def _events(self, ids: list[int], confs: list[float]) -> list[EventHit]:
        c = self.compiled
        strongest: dict[int, float] = {}  # one entry per event type, its strongest occurrence
        for e, conf_e in zip(ids, confs, strict=True):
            if abs(conf_e) > abs(strongest.get(e, 0.0)):
                strongest[e] = conf_e
        return [EventHit(c.event_ids[e], c.event_labels[e], w) for e, w in strongest.items()]

    def _shock(
        self,
        batch: ShockBatch,
        i: int,
        legs: list[ShockLeg],
        events: list[EventHit],
        subjects: list[str],
        conf: float,
        novelty: float,
    ) -> Shock:
        item, truncated = batch.items[i], batch.truncated[i]
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
            truncated=truncated,
            notes=[f"headline cut to {self.settings.max_chars} characters"] if truncated else [],
        )

    def _shock_from_row(self, batch: ShockBatch, i: int) -> Shock:
        """Build the `Shock` of row i alone (one headline: no batch-wide arrays to set up).

        `_batch_shocks` builds the same shocks for a whole batch."""
        out, c = batch.out, self.compiled
        day = int(batch.days[i])
        conf, novelty = out.confidence.item(i), out.novelty.item(i)
        scale = self._scale_note(conf, novelty, batch.weights[i])
        k_max = self.settings.max_shocks
        lo = i * k_max
        hi = lo + int(out.n_shocks[i])
        roles = out.sh_role[lo:hi].tolist()
        labels = c.event_labels
        legs = list(
            map(
                ShockLeg,
                map(c.symbols.__getitem__, out.sh_symbol[lo:hi].tolist()),
                out.sh_score[lo:hi].tolist(),
                map(ROLE_NAMES.__getitem__, roles),
                self._via_names(roles, out.sh_via[lo:hi].tolist(), day),
                [labels[ev] if ev >= 0 else "" for ev in out.sh_event[lo:hi].tolist()],
                [scale] * len(roles),
            )
        )
        e0 = i * MAX_EVENTS_OUT
        e1 = e0 + int(out.n_events[i])
        events = (
            self._events(out.ev_id[e0:e1].tolist(), out.ev_conf[e0:e1].tolist()) if e1 > e0 else []
        )
        s0 = i * MAX_SUBJECTS_OUT
        names, symbol_on = self._names_on(day), self._symbol_on
        subjects = [
            names[co] or symbol_on(co, day)
            for co in out.sj_company[s0 : s0 + int(out.n_subjects[i])].tolist()
        ]

        return self._shock(batch, i, legs, events, subjects, conf, novelty)

    def _batch_shocks(self, batch: ShockBatch) -> list[Shock]:
        """Every row's shock, built in one go: legs with array operations where they can be
        (names looked up through object arrays, one `ShockLeg` call per leg), then one `Shock`
        call per row."""
        out, c, n = batch.out, self.compiled, len(batch.items)
        k_max = self.settings.max_shocks
        leg_ptr, (sym, score, role, via, event) = _compact(
            out.n_shocks[:n], k_max, out.sh_symbol, out.sh_score, out.sh_role, out.sh_via,
            out.sh_event,
        )  # fmt: skip
        rows = np.repeat(np.arange(n), np.diff(leg_ptr))
        days = np.asarray(batch.days[:n], np.int64)
        confidence, novelty = out.confidence[:n].tolist(), out.novelty[:n].tolist()
        scales = [
            "" if conf >= 1.0 and nov >= 1.0 and w == 1.0 else self._scale_note(conf, nov, w)
            for conf, nov, w in zip(confidence, novelty, batch.weights[:n], strict=True)
        ]
        names = np.array(c.symbols, dtype=object)
        labels = np.array([*c.event_labels, ""], dtype=object)  # event -1: the ""
        role_names = np.array(ROLE_NAMES, dtype=object)
        # what each leg came through (see `_via_names`): most are subjects, with none
        vias = np.full(sym.shape[0], "", dtype=object)
        themed = role == len(ROLE_NAMES) - 1
        if themed.any():
            vias[themed] = np.array(c.theme_names, dtype=object)[via[themed]]
        related = (role > 1) & ~themed
        if related.any():
            vias[related] = self._symbols_on(via[related], days[rows[related]])
        legs = list(
            map(
                ShockLeg,
                names[sym].tolist(),
                score.tolist(),
                role_names[role].tolist(),
                vias.tolist(),
                labels[event].tolist(),
                np.array(scales, dtype=object)[rows].tolist(),
            )
        )
        ev_ptr, (ev_id, ev_conf) = _compact(
            out.n_events[:n], MAX_EVENTS_OUT, out.ev_id, out.ev_conf
        )
        events, hit_ptr = self._batch_events(ev_ptr, ev_id, ev_conf)
        sj_ptr, (sj_company,) = _compact(out.n_subjects[:n], MAX_SUBJECTS_OUT, out.sj_company)
        subjects = self._symbols_on(sj_company, days[np.repeat(np.arange(n), np.diff(sj_ptr))])
        cut_note = f"headline cut to {self.settings.max_chars} characters"
        return [
            Shock(
                news_id=item.id, ts_event=item.ts_event, ts_init=item.ts_init, headline=text,
                subjects=subjects[s0:s1],
                events=events[e0:e1],
                legs=legs[l0:l1], confidence=conf, novelty=nov, truncated=cut,
                notes=[cut_note] if cut else [],
            )
            for item, text, cut, conf, nov, l0, l1, e0, e1, s0, s1 in zip(
                batch.items, batch.texts, batch.truncated, confidence, novelty,
                leg_ptr[:-1], leg_ptr[1:], hit_ptr[:-1], hit_ptr[1:], sj_ptr[:-1], sj_ptr[1:],
                strict=True,
            )
        ]  # fmt: skip
