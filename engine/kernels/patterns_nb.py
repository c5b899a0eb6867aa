"""Lexicon matching: map tokens to term ids, then match token patterns with gaps.

Reference: `engine.scoring.reference.token_terms` and `match_patterns`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.hashtable_nb import ht_get_nb
from engine.kernels.layout import MAX_TERMS_PER_TOKEN as W
from engine.kernels.tokenize_nb import BOUNDARY, CASHTAG, COMMA, FNV_OFFSET, FNV_PRIME

MIN_STEM = 3


@njit(cache=True)
def _add_term_nb(terms: np.ndarray, nterms: np.ndarray, i: int, t: int) -> None:
    n = nterms[i]
    for a in range(n):
        if terms[i * W + a] == t:
            return
    if n < W:
        terms[i * W + n] = t
        nterms[i] = n + 1


@njit(cache=True)
def token_terms_nb(
    buf: np.ndarray,
    tok_start: np.ndarray,
    tok_end: np.ndarray,
    hashes: np.ndarray,
    flags: np.ndarray,
    n_tok: int,
    term_keys: np.ndarray,
    term_vals: np.ndarray,
    stem_keys: np.ndarray,
    stem_vals: np.ndarray,
    max_stem: int,
    terms: np.ndarray,
    nterms: np.ndarray,
) -> None:
    """Fill terms[i * W : i * W + nterms[i]] with the lexicon terms token i matches (exact word or stem)."""
    for i in range(n_tok):
        nterms[i] = 0
        if flags[i] & CASHTAG:
            continue
        t = ht_get_nb(term_keys, term_vals, hashes[i])
        if t >= 0:
            _add_term_nb(terms, nterms, i, t)
        h = FNV_OFFSET
        s = tok_start[i]
        e = min(tok_end[i], s + max_stem)
        for k in range(s, e):
            c = buf[k]
            if 65 <= c <= 90:
                c += 32
            h = (h ^ np.uint64(c)) * FNV_PRIME
            if k - s + 1 >= MIN_STEM:
                t = ht_get_nb(stem_keys, stem_vals, h)
                if t >= 0:
                    _add_term_nb(terms, nterms, i, t)
                elif t == -1:
                    break  # no stem starts with this prefix


@njit(cache=True)
def _has_term_nb(
    terms: np.ndarray, nterms: np.ndarray, j: int, slot_terms: np.ndarray, lo: int, hi: int
) -> bool:
    for a in range(nterms[j]):
        t = terms[j * W + a]
        for q in range(lo, hi):
            if slot_terms[q] == t:
                return True
    return False


@njit(cache=True)
def match_patterns_nb(
    terms: np.ndarray,
    nterms: np.ndarray,
    flags: np.ndarray,
    n_tok: int,
    term_pat_ptr: np.ndarray,
    term_pat: np.ndarray,
    pat_slot_start: np.ndarray,
    pat_slot_end: np.ndarray,
    slot_gap: np.ndarray,
    slot_term_ptr: np.ndarray,
    slot_terms: np.ndarray,
    out_pat: np.ndarray,
    out_start: np.ndarray,
    out_end: np.ndarray,
) -> int:
    """Write every pattern match (pattern, first token, last token); return the count.

    Slots match greedily left to right; a gap never crosses a clause boundary or a comma.
    """
    n_out = 0
    cap = out_pat.shape[0]
    for i in range(n_tok):
        for a in range(nterms[i]):
            t = terms[i * W + a]
            for q in range(term_pat_ptr[t], term_pat_ptr[t + 1]):
                p = term_pat[q]
                pos = i
                ok = True
                for s in range(pat_slot_start[p] + 1, pat_slot_end[p]):
                    found = -1
                    lim = min(n_tok, pos + 2 + slot_gap[s])
                    for j in range(pos + 1, lim):
                        if flags[j] & (BOUNDARY | COMMA):
                            break
                        if _has_term_nb(
                            terms, nterms, j, slot_terms, slot_term_ptr[s], slot_term_ptr[s + 1]
                        ):
                            found = j
                            break
                    if found < 0:
                        ok = False
                        break
                    pos = found
                if not ok:
                    continue
                dup = False
                for r in range(n_out):
                    if out_pat[r] == p and out_start[r] == i:
                        dup = True
                        break
                if dup or n_out >= cap:
                    continue
                out_pat[n_out] = p
                out_start[n_out] = i
                out_end[n_out] = pos
                n_out += 1
    return n_out
