"""Entity linking: leftmost-longest walk of the alias trie over token hashes.

Reference: `engine.scoring.reference.link_entities`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.hashtable_nb import edge_key_nb, ht_get_nb
from engine.kernels.tokenize_nb import BOUNDARY, CAP, CASHTAG, HASHTAG, POSSESSIVE, UPPER

KIND_NAME = 0
KIND_TICKER = 1
KIND_CASHTAG = 2
KIND_BLOCK = 3  # a phrase that is not a company ("price target", "Dow Jones")
MAX_ALIAS_TOKENS = 8


@njit(cache=True)
def shouting_nb(flags: np.ndarray, n_tok: int) -> bool:
    """True when most words are upper-case, so bare tickers cannot be told from words."""
    words = 0
    upper = 0
    for i in range(n_tok):
        f = flags[i]
        if f & CASHTAG:
            continue
        words += 1
        if f & UPPER:
            upper += 1
    return words >= 4 and upper * 10 > words * 6


@njit(cache=True)
def _payload_fits_nb(
    kind: int, capmask: int, flags: np.ndarray, i: int, j: int, allow_bare: bool
) -> bool:
    for k in range(i, j):
        f = flags[k]
        if k > i and (f & BOUNDARY):
            return False
        if k < j - 1 and (f & POSSESSIVE):
            return False
        if kind == KIND_NAME:
            if f & CASHTAG:
                return False
            if (capmask >> (k - i)) & 1 and not (f & (CAP | HASHTAG)):
                return False
        elif kind == KIND_TICKER:
            if not allow_bare or (f & CASHTAG) or not (f & UPPER):
                return False
    return True


@njit(cache=True)
def _pick_payload_nb(
    node: int,
    flags: np.ndarray,
    i: int,
    j: int,
    day: int,
    allow_bare: bool,
    node_pay_start: np.ndarray,
    node_pay_end: np.ndarray,
    pay_kind: np.ndarray,
    pay_capmask: np.ndarray,
    pay_from: np.ndarray,
    pay_to: np.ndarray,
) -> int:
    fallback = -1
    for p in range(node_pay_start[node], node_pay_end[node]):
        kind = pay_kind[p]
        if not _payload_fits_nb(kind, pay_capmask[p], flags, i, j, allow_bare):
            continue
        if pay_from[p] <= day <= pay_to[p]:
            return p
        if kind != KIND_NAME and fallback < 0:
            fallback = p
    return fallback


@njit(cache=True)
def link_entities_nb(
    hashes: np.ndarray,
    flags: np.ndarray,
    n_tok: int,
    day: int,
    allow_bare: bool,
    ent_keys: np.ndarray,
    ent_vals: np.ndarray,
    node_pay_start: np.ndarray,
    node_pay_end: np.ndarray,
    pay_company: np.ndarray,
    pay_kind: np.ndarray,
    pay_capmask: np.ndarray,
    pay_from: np.ndarray,
    pay_to: np.ndarray,
    out_company: np.ndarray,
    out_start: np.ndarray,
    out_end: np.ndarray,
) -> int:
    """Write mentions (company, first token, end token) in text order; return their count."""
    n_out = 0
    cap = out_company.shape[0]
    i = 0
    while i < n_tok and n_out < cap:
        node = 0
        best = -1
        best_end = -1
        j = i
        while j < n_tok and j - i < MAX_ALIAS_TOKENS:
            child = ht_get_nb(ent_keys, ent_vals, edge_key_nb(node, hashes[j]))
            if child < 0:
                break
            node = child
            p = _pick_payload_nb(
                node,
                flags,
                i,
                j + 1,
                day,
                allow_bare,
                node_pay_start,
                node_pay_end,
                pay_kind,
                pay_capmask,
                pay_from,
                pay_to,
            )
            if p >= 0:
                best = p
                best_end = j + 1
            j += 1
        if best >= 0:
            if pay_kind[best] != KIND_BLOCK:
                out_company[n_out] = pay_company[best]
                out_start[n_out] = i
                out_end[n_out] = best_end
                n_out += 1
            i = best_end
        else:
            i += 1
    return n_out
