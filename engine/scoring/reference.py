"""Plain-Python reference of the scoring kernels, written from the data, not the arrays.

Slow and obvious on purpose: tests check that `engine.kernels` computes the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from engine.lexicon import Lexicon, Pattern, parse_pattern
from engine.scoring.compile import ScoringParams
from engine.text.normalize import normalize
from engine.text.tokens import (
    BOUNDARY,
    CAP,
    CASHTAG,
    COMMA,
    HASHTAG,
    MASK64,
    POSSESSIVE,
    UPPER,
    Token,
    fnv1a,
    tokenize,
)
from engine.universe import MAX_DAY, MIN_DAY, RELATIONS, Universe

NAME, TICKER, CASH, BLOCK = 0, 1, 2, 3
EVENT, THEME, HEDGE, NEGATION, BOUNDARY_PAT = 0, 1, 2, 3, 4


def simhash(hashes: list[int]) -> int:
    """64-bit SimHash: bit b is set when more tokens have it set than not."""
    out = 0
    for bit in range(64):
        votes = sum(1 if (h >> bit) & 1 else -1 for h in hashes)
        if votes > 0:
            out |= 1 << bit
    return out


def shouting(tokens: list[Token]) -> bool:
    """Most words upper-case: bare tickers are not trusted."""
    words = [t for t in tokens if not t.flags & CASHTAG]
    upper = [t for t in words if t.flags & UPPER]
    return len(words) >= 4 and len(upper) * 10 > len(words) * 6


@dataclass(frozen=True, slots=True)
class Mention:
    company: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    row: int
    start: int
    end: int


class ReferenceScorer:
    """Scores one headline with dicts and lists."""

    def __init__(
        self, universe: Universe, lexicon: Lexicon, params: ScoringParams | None = None
    ) -> None:
        self.u, self.lex, self.p = universe, lexicon, params or ScoringParams()
        self.aliases: dict[tuple[int, ...], list[tuple[int, int, int, int, int]]] = defaultdict(
            list
        )
        for c, company in enumerate(universe.companies):
            lo_all = min(x.valid_from for x in company.listings)
            hi_all = max(x.valid_to for x in company.listings)
            for alias in company.names():
                raw, lo, hi = alias.text, alias.valid_from, alias.valid_to
                text = normalize(raw)[0]
                toks = [t for t in tokenize(text) if not t.flags & CASHTAG]
                if not toks or len(toks) > 8:
                    continue
                mask = sum(
                    1 << k for k, t in enumerate(toks) if t.flags & CAP and text[t.start].isupper()
                )
                self._alias(tuple(t.hash for t in toks), (c, NAME, mask, lo, hi))
            tickers = [(x.symbol, x.valid_from, x.valid_to) for x in company.listings]
            tickers += [(s, lo_all, hi_all) for s in company.other_symbols]
            for sym, lo, hi in tickers:
                self._alias(
                    (fnv1a(b"$" + sym.lower().encode("ascii", "replace")),), (c, CASH, 0, lo, hi)
                )
                toks = tokenize(sym)
                if len(toks) == 1 and (len(sym) < 2 or sym in universe.ticker_stopwords):
                    continue
                self._alias(tuple(t.hash for t in toks), (c, TICKER, 0, lo, hi))
        for phrase in universe.not_companies:
            toks = [t for t in tokenize(normalize(phrase)[0]) if not t.flags & CASHTAG]
            if toks:
                self._alias(tuple(t.hash for t in toks), (-1, BLOCK, 0, MIN_DAY, MAX_DAY))
        for key in self.aliases:
            self.aliases[key].sort(key=lambda p: (p[1], -p[3]))
        self.prefixes = {key[:k] for key in self.aliases for k in range(1, len(key) + 1)}
        self.rows: list[tuple[Pattern, int, int, float, bool]] = []
        for e, ev in enumerate(lexicon.events):
            for text in ev.patterns:
                pat = parse_pattern(text)
                self.rows.append((pat, EVENT, e, pat.weight, False))
            for text in ev.patterns_passive:
                pat = parse_pattern(text)
                self.rows.append((pat, EVENT, e, pat.weight, True))
        for t, theme in enumerate(universe.themes):
            for text in theme.triggers:
                pat = parse_pattern(text)
                self.rows.append((pat, THEME, t, pat.weight, False))
        for text, mult in lexicon.modifiers.hedges.items():
            pat = parse_pattern(text)
            self.rows.append((pat, HEDGE, 0, pat.weight * mult, False))
        for text in lexicon.modifiers.negations:
            pat = parse_pattern(text)
            self.rows.append((pat, NEGATION, 0, pat.weight, False))
        for text in lexicon.modifiers.boundaries:
            pat = parse_pattern(text)
            self.rows.append((pat, BOUNDARY_PAT, 0, pat.weight, False))
        self.graph: dict[int, dict[tuple[int, int], float]] = defaultdict(dict)
        code = {name: k for k, name in enumerate(RELATIONS)}
        for link in universe.graph_links(self.p.industry_peer_weight):
            a, b = universe.by_symbol.get(link.source), universe.by_symbol.get(link.target)
            if a is None or b is None or a == b:
                continue
            pairs = (
                [(a, b, code["customer"]), (b, a, code["supplier"])]
                if link.type == "supplier"
                else [(a, b, code[link.type]), (b, a, code[link.type])]
            )
            for x, y, r in pairs:
                self.graph[x][(y, r)] = max(link.weight, self.graph[x].get((y, r), 0.0))
        peer = code["peer"]
        for edges in self.graph.values():
            specific = {y for (y, r) in edges if r != peer}
            for y in specific:
                edges.pop((y, peer), None)
        self.ring: list[tuple[int, int]] = []
        self.ring_size = 4096

    def _alias(self, key: tuple[int, ...], payload: tuple[int, int, int, int, int]) -> None:
        if payload not in self.aliases[key]:
            self.aliases[key].append(payload)

    # -- entities -------------------------------------------------------------------------
    def _fits(self, kind: int, mask: int, toks: list[Token], allow_bare: bool) -> bool:
        for k, t in enumerate(toks):
            if k > 0 and t.flags & BOUNDARY:
                return False
            if k < len(toks) - 1 and t.flags & POSSESSIVE:
                return False
            if kind == NAME:
                if t.flags & CASHTAG or ((mask >> k) & 1 and not t.flags & (CAP | HASHTAG)):
                    return False
            elif kind == TICKER and (not allow_bare or t.flags & CASHTAG or not t.flags & UPPER):
                return False
        return True

    def link_entities(self, tokens: list[Token], day: int) -> list[Mention]:
        """Leftmost-longest alias matches."""
        allow_bare = not shouting(tokens)
        out: list[Mention] = []
        i = 0
        while i < len(tokens) and len(out) < 64:
            best: tuple[int, int] | None = None
            for j in range(i + 1, min(len(tokens), i + 8) + 1):
                key = tuple(t.hash for t in tokens[i:j])
                if key not in self.prefixes:
                    break
                chosen, fallback = None, None
                for c, kind, mask, lo, hi in self.aliases.get(key, []):
                    if not self._fits(kind, mask, tokens[i:j], allow_bare):
                        continue
                    if lo <= day <= hi:
                        chosen = c
                        break
                    if kind != NAME and fallback is None:
                        fallback = c
                pick = chosen if chosen is not None else fallback
                if pick is not None:
                    best = (pick, j)
            if best is None:
                i += 1
            else:
                if best[0] >= 0:
                    out.append(Mention(best[0], i, best[1]))
                i = best[1]
        return out

    # -- lexicon --------------------------------------------------------------------------
    @staticmethod
    def _term_hit(word: str, slot_terms: tuple[object, ...]) -> bool:
        for term in slot_terms:
            w, stem = term.word, term.stem  # type: ignore[attr-defined]
            if (stem and word.startswith(w)) or (not stem and word == w):
                return True
        return False

    def match_patterns(self, tokens: list[Token]) -> list[Match]:
        """Every pattern match, greedy per slot, gaps inside a clause."""
        words = ["" if t.flags & CASHTAG else t.text for t in tokens]
        out: list[Match] = []
        for i in range(len(tokens)):
            for r, (pat, *_rest) in enumerate(self.rows):
                if not words[i] or not self._term_hit(words[i], pat.slots[0].terms):
                    continue
                pos, ok = i, True
                for slot in pat.slots[1:]:
                    found = -1
                    for j in range(pos + 1, min(len(tokens), pos + 2 + slot.gap)):
                        if tokens[j].flags & (BOUNDARY | COMMA):
                            break
                        if words[j] and self._term_hit(words[j], slot.terms):
                            found = j
                            break
                    if found < 0:
                        ok = False
                        break
                    pos = found
                if ok:
                    out.append(Match(r, i, pos))
        return out

    # -- the pipeline ---------------------------------------------------------------------
    def score(
        self,
        headline: str,
        day: int,
        ts: int = 0,
        source_w: float = 1.0,
        hints: list[int] | None = None,
        novelty: bool = False,
    ) -> dict[int, float]:
        """Return company index → final score (clipped, scaled, |score| ≥ min_abs, listed)."""
        text, _ = normalize(headline)
        tokens = tokenize(text)
        mentions = self.link_entities(tokens, day)
        matches = self.match_patterns(tokens)
        brk = [bool(t.flags & BOUNDARY) for t in tokens]
        conf = 1.0
        for m in matches:
            _, kind, _target, weight, _passive = self.rows[m.row]
            if kind == BOUNDARY_PAT and m.start > 0:
                brk[m.start] = True
            elif kind == HEDGE:
                conf = min(conf, weight)
        clause, c = [], 0
        for i in range(len(tokens)):
            if brk[i] and i > 0:
                c += 1
            clause.append(c)
        n_clauses = c + 1 if tokens else 0
        # occurrences
        occ: dict[tuple[int, int], tuple[float, int, int, bool]] = {}
        order: list[tuple[int, int]] = []
        window = self.lex.modifiers.negation_window
        for m in matches:
            _, kind, e, weight, passive = self.rows[m.row]
            if kind != EVENT:
                continue
            factor = 1.0
            for q in matches:
                if self.rows[q.row][1] != NEGATION:
                    continue
                if (
                    q.end < m.start
                    and m.start - q.end <= window
                    and clause[q.end] == clause[m.start]
                ):
                    factor = 0.0 if self.lex.events[e].cancel_on_negation else -0.5
                    break
            if factor == 0.0:
                continue
            w = weight * factor
            key = (e, clause[m.start])
            if key in occ:
                old_w, old_s, old_e, _ = occ[key]
                longer = m.end - m.start > old_e - old_s
                if abs(w) > abs(old_w) or (abs(w) == abs(old_w) and longer):
                    occ[key] = (w, m.start, m.end, passive)
            else:
                occ[key] = (w, m.start, m.end, passive)
                order.append(key)
        alive = {key: True for key in order}
        for key in order:
            w, s, t_end, _ = occ[key]
            for other in order:
                if other == key or not alive[other] or other[0] == key[0]:
                    continue
                ow, os_, oe, _ = occ[other]
                if os_ > t_end or s > oe:
                    continue
                stronger = self.lex.events[other[0]].strength * abs(ow) > self.lex.events[
                    key[0]
                ].strength * abs(w)
                if oe - os_ > t_end - s or (oe - os_ == t_end - s and stronger):
                    alive[key] = False
                    break
        for key in order:
            for other in order:
                overridden = self.lex.events[other[0]].id in self.lex.events[key[0]].overridden_by
                if alive[key] and alive[other] and overridden:
                    alive[key] = False
        live = [key for key in order if alive[key]]
        # direct hits
        direct: dict[tuple[int, int], tuple[float, bool]] = {}
        direct_order: list[tuple[int, int]] = []
        net = 0.0
        for key in live:
            e, ocl = key
            w, s, _, passive = occ[key]
            ev = self.lex.events[e]
            net += ev.strength * ev.subject * w
            target = -1
            for d in range(n_clauses):
                for cl in (ocl - d, ocl + d):
                    if 0 <= cl < n_clauses and any(clause[mm.start] == cl for mm in mentions):
                        target = cl
                        break
                if target >= 0:
                    break
            hits: list[tuple[int, bool]] = []
            if mentions:
                for n_m, mm in enumerate(mentions):
                    if target < 0 or clause[mm.start] != target:
                        continue
                    if any(prev.company == mm.company for prev in mentions[:n_m]):
                        continue
                    before = mm.end <= s or target != ocl
                    if not before and any(t.flags & COMMA for t in tokens[s + 1 : mm.start + 1]):
                        continue
                    hits.append((mm.company, before))
            else:
                hits = [(h, True) for h in hints or []]
            for co, before in hits:
                is_obj = (not before) != passive
                mult = ev.object if is_obj else ev.subject
                if mult == 0.0:
                    continue
                value = ev.strength * mult * w
                k2 = (co, e)
                if k2 in direct:
                    if abs(value) > abs(direct[k2][0]):
                        direct[k2] = (value, is_obj)
                else:
                    direct[k2] = (value, is_obj)
                    direct_order.append(k2)
        score: dict[int, float] = defaultdict(float)
        for (co, _e), (value, _obj) in direct.items():
            score[co] += value
        for (co, e), (value, is_obj) in direct.items():
            ev = self.lex.events[e]
            table = ev.propagate_object if is_obj else ev.propagate
            for (nbr, rel), w in self.graph.get(co, {}).items():
                mult = table[RELATIONS[rel]]
                if mult and (nbr, e) not in direct:
                    score[nbr] += value * mult * w
        seen_themes: set[int] = set()
        for m in matches:
            _, kind, th, weight, _ = self.rows[m.row]
            if kind != THEME:
                continue
            theme = self.u.themes[th]
            pol = theme.polarity or (1.0 if net > 0 else -1.0 if net < 0 else 0.0)
            if pol == 0.0 or th in seen_themes:
                continue
            seen_themes.add(th)
            for sym, mw in theme.members.items():
                member = self.u.by_symbol.get(sym)
                if member is not None:
                    score[member] += theme.strength * pol * weight * mw
        factor = 1.0
        if novelty and tokens:
            h = simhash([t.hash for t in tokens])
            best = 64
            for rh, rts in reversed(self.ring[-self.ring_size :]):
                if ts - rts > self.p.novelty_window_ns:
                    break  # newest to oldest: the rest is older still
                if ts >= rts:
                    best = min(best, bin(rh ^ h).count("1"))
            if best <= self.p.dup_distance:
                factor = self.p.dup_factor
            self.ring.append((h & MASK64, ts))
        out = {}
        for co, v in score.items():
            v = max(-1.0, min(1.0, v * conf * factor * source_w))
            if abs(v) >= self.p.min_abs and self.u.companies[co].symbol_on(day) is not None:
                out[co] = v
        return out
