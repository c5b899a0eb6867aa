"""Compile the universe and lexicon into the arrays the scoring kernels read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.kernels.layout import ModelArrays
from engine.lexicon import Lexicon, Pattern, parse_pattern
from engine.text.normalize import normalize
from engine.text.tokens import CAP, CASHTAG, fnv1a, tokenize, word_hash
from engine.universe import MAX_DAY, MIN_DAY, RELATIONS, Universe

KIND_NAME, KIND_TICKER, KIND_CASHTAG, KIND_BLOCK = 0, 1, 2, 3
PAT_EVENT, PAT_THEME, PAT_HEDGE, PAT_NEGATION, PAT_BOUNDARY = 0, 1, 2, 3, 4
MAX_ALIAS_TOKENS = 8
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class ScoringParams:
    """Numbers the kernels need besides the data."""

    min_abs: float = 0.02
    dup_distance: int = 3
    dup_factor: float = 0.25
    novelty_window_ns: int = 24 * 3600 * 1_000_000_000
    industry_peer_weight: float = 0.0


@dataclass(slots=True)
class Compiled:
    """The arrays, plus the names needed to turn kernel output back into words."""

    arrays: ModelArrays
    company_symbols: list[str]
    symbols: list[str]
    event_ids: list[str]
    event_labels: list[str]
    theme_ids: list[str]
    theme_names: list[str]
    problems: list[str]


def edge_key(node: int, token_hash: int) -> int:
    """Python twin of `edge_key_nb`."""
    k = token_hash ^ (((node + 1) * _GOLDEN) & _MASK)
    return k or 1


def _table(items: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pack a dict of uint64 → int32 into open-addressing arrays (twin of `ht_get_nb`)."""
    size = 16
    while size < 2 * len(items) + 1:
        size *= 2
    keys = np.zeros(size, np.uint64)
    vals = np.full(size, -1, np.int32)
    mask = size - 1
    for key, value in items.items():
        key = key or 1
        slot = (key ^ (key >> 29)) & mask
        while keys[slot] != 0 and int(keys[slot]) != key:
            slot = (slot + 1) & mask
        keys[slot] = key
        vals[slot] = value
    return keys, vals


class _Trie:
    def __init__(self) -> None:
        self.children: list[dict[int, int]] = [{}]
        self.payloads: list[list[tuple[int, int, int, int, int]]] = [[]]

    def add(self, hashes: list[int], payload: tuple[int, int, int, int, int]) -> None:
        node = 0
        for h in hashes:
            nxt = self.children[node].get(h)
            if nxt is None:
                nxt = len(self.children)
                self.children[node][h] = nxt
                self.children.append({})
                self.payloads.append([])
            node = nxt
        if payload not in self.payloads[node]:
            self.payloads[node].append(payload)


def _compile_entities(universe: Universe, problems: list[str]) -> tuple[_Trie, list[str]]:
    trie = _Trie()
    symbols: list[str] = []
    sym_id: dict[str, int] = {}
    for c, company in enumerate(universe.companies):
        span = (
            min(x.valid_from for x in company.listings),
            max(x.valid_to for x in company.listings),
        )
        for alias in company.names():
            text, lo, hi = normalize(alias.text)[0], alias.valid_from, alias.valid_to
            toks = [t for t in tokenize(text) if not t.flags & CASHTAG]
            if not toks or len(toks) > MAX_ALIAS_TOKENS:
                problems.append(
                    f"{company.origin}: alias {text!r} of {company.symbol} must have 1 to "
                    f"{MAX_ALIAS_TOKENS} words"
                )
                continue
            capmask = sum(
                1 << k for k, t in enumerate(toks) if t.flags & CAP and text[t.start].isupper()
            )
            trie.add([t.hash for t in toks], (c, KIND_NAME, capmask, lo, hi))
        tickers = [(x.symbol, x.valid_from, x.valid_to) for x in company.listings]
        tickers += [(s, span[0], span[1]) for s in company.other_symbols]
        for sym, lo, hi in tickers:
            sym_id.setdefault(sym, len(symbols))
            if sym_id[sym] == len(symbols):
                symbols.append(sym)
            trie.add(
                [fnv1a(b"$" + sym.lower().encode("ascii", "replace"))], (c, KIND_CASHTAG, 0, lo, hi)
            )
            toks = tokenize(sym)
            if len(toks) == 1 and (len(sym) < 2 or sym in universe.ticker_stopwords):
                continue
            trie.add([t.hash for t in toks], (c, KIND_TICKER, 0, lo, hi))
    for phrase in universe.not_companies:
        toks = [t for t in tokenize(normalize(phrase)[0]) if not t.flags & CASHTAG]
        if toks:
            trie.add([t.hash for t in toks], (-1, KIND_BLOCK, 0, MIN_DAY, MAX_DAY))
    return trie, symbols


def _flatten_trie(trie: _Trie) -> dict[str, np.ndarray]:
    edges: dict[int, int] = {}
    for node, children in enumerate(trie.children):
        for h, child in children.items():
            edges[edge_key(node, h)] = child
    keys, vals = _table(edges)
    starts: list[int] = []
    ends: list[int] = []
    rows: list[tuple[int, int, int, int, int]] = []
    for payloads in trie.payloads:
        starts.append(len(rows))
        # prefer names, then cashtags, then bare tickers; the latest-starting period first
        rows.extend(sorted(payloads, key=lambda p: (p[1], -p[3])))
        ends.append(len(rows))
    pay = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return {
        "ent_keys": keys,
        "ent_vals": vals,
        "node_pay_start": np.array(starts, np.int32),
        "node_pay_end": np.array(ends, np.int32),
        "pay_company": pay[:, 0].astype(np.int32),
        "pay_kind": pay[:, 1].astype(np.int8),
        "pay_capmask": pay[:, 2].astype(np.int32),
        "pay_from": pay[:, 3].astype(np.int32),
        "pay_to": pay[:, 4].astype(np.int32),
    }


@dataclass(slots=True)
class _PatternRow:
    pattern: Pattern
    kind: int
    target: int
    weight: float
    passive: bool


def _compile_patterns(rows: list[_PatternRow]) -> dict[str, np.ndarray | int]:
    term_id: dict[tuple[str, bool], int] = {}
    for row in rows:
        for slot in row.pattern.slots:
            for term in slot.terms:
                term_id.setdefault((term.word, term.stem), len(term_id))
    exact = {word_hash(w): i for (w, stem), i in term_id.items() if not stem}
    # every prefix (3+ letters) of a stem is stored too, as -2, so the kernel stops looking as
    # soon as a token's prefix starts no stem at all
    stems: dict[int, int] = {}
    for w, stem in term_id:
        if stem:
            for k in range(3, len(w)):
                stems.setdefault(word_hash(w[:k]), -2)
    stems.update({word_hash(w): i for (w, stem), i in term_id.items() if stem})
    max_stem = max([len(w) for (w, stem) in term_id if stem] or [3])
    firsts: list[list[int]] = [[] for _ in term_id]
    slot_gap: list[int] = []
    slot_ptr: list[int] = [0]
    slot_terms: list[int] = []
    pat_slot_start: list[int] = []
    pat_slot_end: list[int] = []
    for p, row in enumerate(rows):
        pat_slot_start.append(len(slot_gap))
        for k, slot in enumerate(row.pattern.slots):
            ids = sorted({term_id[(t.word, t.stem)] for t in slot.terms})
            slot_gap.append(slot.gap)
            slot_terms.extend(ids)
            slot_ptr.append(len(slot_terms))
            if k == 0:
                for t in ids:
                    firsts[t].append(p)
        pat_slot_end.append(len(slot_gap))
    ptr = np.zeros(len(term_id) + 1, np.int32)
    ptr[1:] = np.cumsum([len(f) for f in firsts])
    term_keys, term_vals = _table(exact)
    stem_keys, stem_vals = _table(stems)
    return {
        "term_keys": term_keys,
        "term_vals": term_vals,
        "stem_keys": stem_keys,
        "stem_vals": stem_vals,
        "max_stem": int(max_stem),
        "term_pat_ptr": ptr,
        "term_pat": np.array([p for f in firsts for p in f], np.int32),
        "pat_kind": np.array([r.kind for r in rows], np.int8),
        "pat_target": np.array([r.target for r in rows], np.int32),
        "pat_weight": np.array([r.weight for r in rows], np.float64),
        "pat_passive": np.array([r.passive for r in rows], np.bool_),
        "pat_slot_start": np.array(pat_slot_start, np.int32),
        "pat_slot_end": np.array(pat_slot_end, np.int32),
        "slot_gap": np.array(slot_gap, np.int32),
        "slot_term_ptr": np.array(slot_ptr, np.int32),
        "slot_terms": np.array(slot_terms, np.int32),
    }


def _pattern_rows(universe: Universe, lexicon: Lexicon, problems: list[str]) -> list[_PatternRow]:
    rows: list[_PatternRow] = []

    def add(text: str, kind: int, target: int, weight: float, passive: bool, where: str) -> None:
        pattern = parse_pattern(text, where)
        rows.append(_PatternRow(pattern, kind, target, pattern.weight * weight, passive))

    for e, event in enumerate(lexicon.events):
        where = f"events.toml: {event.id}"
        for text in event.patterns:
            add(text, PAT_EVENT, e, 1.0, False, where)
        for text in event.patterns_passive:
            add(text, PAT_EVENT, e, 1.0, True, where)
    for t, theme in enumerate(universe.themes):
        for text in theme.triggers:
            add(text, PAT_THEME, t, 1.0, False, f"themes.toml: {theme.id}")
    mods = lexicon.modifiers
    for text, mult in mods.hedges.items():
        add(text, PAT_HEDGE, 0, mult, False, "modifiers.toml: hedge")
    for text in mods.negations:
        add(text, PAT_NEGATION, 0, 1.0, False, "modifiers.toml: negation")
    for text in mods.boundaries:
        add(text, PAT_BOUNDARY, 0, 1.0, False, "modifiers.toml: boundary")
    return rows


def _compile_graph(universe: Universe, params: ScoringParams) -> dict[str, np.ndarray]:
    n = len(universe.companies)
    rel = {name: code for code, name in enumerate(RELATIONS)}
    edges: dict[tuple[int, int, int], float] = {}

    def put(a: int, b: int, code: int, w: float) -> None:
        if a != b:
            edges[(a, b, code)] = max(w, edges.get((a, b, code), 0.0))

    for link in universe.graph_links(params.industry_peer_weight):
        src, dst = universe.by_symbol.get(link.source), universe.by_symbol.get(link.target)
        if src is None or dst is None:
            continue
        if link.type == "supplier":
            put(src, dst, rel["customer"], link.weight)
            put(dst, src, rel["supplier"], link.weight)
        else:
            put(src, dst, rel[link.type], link.weight)
            put(dst, src, rel[link.type], link.weight)
    # "peer" is the generic relation: where a pair has a more specific one, the peer link goes
    specific = {(a, b) for (a, b, code) in edges if code != rel["peer"]}
    edges = {k: w for k, w in edges.items() if not (k[2] == rel["peer"] and k[:2] in specific)}
    ordered = sorted(edges.items())
    counts = (
        np.bincount([a for (a, _, _), _ in ordered], minlength=n) if ordered else np.zeros(n, int)
    )
    ptr = np.zeros(n + 1, np.int32)
    ptr[1:] = np.cumsum(counts)
    return {
        "g_ptr": ptr,
        "g_nbr": np.array([b for (_, b, _), _ in ordered], np.int32),
        "g_rel": np.array([c for (_, _, c), _ in ordered], np.int8),
        "g_w": np.array([w for _, w in ordered], np.float64),
    }


def _compile_themes(universe: Universe) -> dict[str, np.ndarray]:
    ptr, members, weights = [0], [], []
    for theme in universe.themes:
        for sym, w in theme.members.items():
            c = universe.by_symbol.get(sym)
            if c is not None:
                members.append(c)
                weights.append(w)
        ptr.append(len(members))
    return {
        "th_polarity": np.array([t.polarity for t in universe.themes], np.float64),
        "th_strength": np.array([t.strength for t in universe.themes], np.float64),
        "th_ptr": np.array(ptr, np.int32),
        "th_member": np.array(members, np.int32),
        "th_weight": np.array(weights, np.float64),
    }


def _compile_events(lexicon: Lexicon) -> dict[str, np.ndarray]:
    events = lexicon.events
    index = {e.id: k for k, e in enumerate(events)}
    override = np.zeros((len(events), len(events)), np.bool_)
    for k, e in enumerate(events):
        for other in e.overridden_by:
            override[k, index[other]] = True
    return {
        "ev_override": override.ravel(),
        "ev_strength": np.array([e.strength for e in events], np.float64),
        "ev_subject": np.array([e.subject for e in events], np.float64),
        "ev_object": np.array([e.object for e in events], np.float64),
        "ev_cancel": np.array([e.cancel_on_negation for e in events], np.bool_),
        "ev_prop": np.array([e.propagate[r] for e in events for r in RELATIONS], np.float64),
        "ev_prop_obj": np.array(
            [e.propagate_object[r] for e in events for r in RELATIONS], np.float64
        ),
    }


def compile_model(
    universe: Universe, lexicon: Lexicon, params: ScoringParams | None = None
) -> Compiled:
    """Compile everything; rows that cannot be used are skipped and listed in `problems`."""
    params = params or ScoringParams()
    problems = list(universe.problems)
    trie, symbols = _compile_entities(universe, problems)
    sym_id = {s: i for i, s in enumerate(symbols)}
    lst_ptr, lst_symbol, lst_from, lst_to = [0], [], [], []
    for company in universe.companies:
        for listing in company.listings:
            lst_symbol.append(sym_id[listing.symbol])
            lst_from.append(listing.valid_from)
            lst_to.append(listing.valid_to)
        lst_ptr.append(len(lst_symbol))
    parts: dict[str, object] = {}
    parts.update(_flatten_trie(trie))
    parts.update(_compile_patterns(_pattern_rows(universe, lexicon, problems)))
    parts.update(_compile_events(lexicon))
    parts.update(_compile_themes(universe))
    parts.update(_compile_graph(universe, params))
    parts.update(
        co_lst_ptr=np.array(lst_ptr, np.int32),
        lst_symbol=np.array(lst_symbol, np.int32),
        lst_from=np.array(lst_from, np.int32),
        lst_to=np.array(lst_to, np.int32),
        negation_window=lexicon.modifiers.negation_window,
        min_abs=params.min_abs,
        dup_distance=params.dup_distance,
        dup_factor=params.dup_factor,
        novelty_window_ns=params.novelty_window_ns,
    )
    arrays = ModelArrays(**parts)  # type: ignore[arg-type]
    return Compiled(
        arrays=arrays,
        company_symbols=[c.symbol for c in universe.companies],
        symbols=symbols,
        event_ids=[e.id for e in lexicon.events],
        event_labels=[e.label for e in lexicon.events],
        theme_ids=[t.id for t in universe.themes],
        theme_names=[t.name for t in universe.themes],
        problems=problems,
    )
