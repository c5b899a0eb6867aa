"""Array layouts the scoring kernels read (model), scratch (workspace) and fill (output).

All arrays are one-dimensional: a (rows, k) table is stored row-major and indexed `row * k + j`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MAX_TOKENS = 256
MAX_TERMS_PER_TOKEN = 8
MAX_MENTIONS = 64
MAX_MATCHES = 128
MAX_OCCURRENCES = 32
MAX_DIRECT = 128
MAX_EVENTS_OUT = 8
MAX_SUBJECTS_OUT = 16


class ModelArrays(NamedTuple):
    """The compiled universe and lexicon (see `engine.scoring.compile`)."""

    ent_keys: np.ndarray
    ent_vals: np.ndarray
    node_pay_start: np.ndarray
    node_pay_end: np.ndarray
    pay_company: np.ndarray
    pay_kind: np.ndarray
    pay_capmask: np.ndarray
    pay_from: np.ndarray
    pay_to: np.ndarray
    term_keys: np.ndarray
    term_vals: np.ndarray
    stem_keys: np.ndarray
    stem_vals: np.ndarray
    max_stem: int
    term_pat_ptr: np.ndarray
    term_pat: np.ndarray
    pat_kind: np.ndarray
    pat_target: np.ndarray
    pat_weight: np.ndarray
    pat_passive: np.ndarray
    pat_slot_start: np.ndarray
    pat_slot_end: np.ndarray
    slot_gap: np.ndarray
    slot_term_ptr: np.ndarray
    slot_terms: np.ndarray
    ev_strength: np.ndarray
    ev_subject: np.ndarray
    ev_object: np.ndarray
    ev_cancel: np.ndarray
    ev_prop: np.ndarray
    ev_prop_obj: np.ndarray
    th_polarity: np.ndarray
    th_strength: np.ndarray
    th_ptr: np.ndarray
    th_member: np.ndarray
    th_weight: np.ndarray
    g_ptr: np.ndarray
    g_nbr: np.ndarray
    g_rel: np.ndarray
    g_w: np.ndarray
    co_lst_ptr: np.ndarray
    lst_symbol: np.ndarray
    lst_from: np.ndarray
    lst_to: np.ndarray
    negation_window: int
    min_abs: float
    dup_distance: int
    dup_factor: float
    novelty_window_ns: int
    ev_override: np.ndarray


class Workspace(NamedTuple):
    """Scratch arrays reused from headline to headline, plus the novelty ring."""

    hashes: np.ndarray
    flags: np.ndarray
    tstart: np.ndarray
    tend: np.ndarray
    terms: np.ndarray
    nterms: np.ndarray
    brk: np.ndarray
    clause: np.ndarray
    men_co: np.ndarray
    men_s: np.ndarray
    men_e: np.ndarray
    mt_pat: np.ndarray
    mt_s: np.ndarray
    mt_e: np.ndarray
    occ_ev: np.ndarray
    occ_s: np.ndarray
    occ_e: np.ndarray
    occ_w: np.ndarray
    occ_clause: np.ndarray
    occ_passive: np.ndarray
    occ_live: np.ndarray
    dir_co: np.ndarray
    dir_ev: np.ndarray
    dir_val: np.ndarray
    dir_obj: np.ndarray
    score: np.ndarray
    best_abs: np.ndarray
    best_role: np.ndarray
    best_via: np.ndarray
    best_ev: np.ndarray
    is_touched: np.ndarray
    touched: np.ndarray
    n_touched: np.ndarray
    ring_hash: np.ndarray
    ring_ts: np.ndarray
    ring_meta: np.ndarray
    dir_mark: np.ndarray


def new_workspace(n_companies: int, ring_size: int = 4096) -> Workspace:
    """Allocate scratch for a model with `n_companies` companies."""
    i32 = np.int32
    return Workspace(
        hashes=np.zeros(MAX_TOKENS, np.uint64),
        flags=np.zeros(MAX_TOKENS, i32),
        tstart=np.zeros(MAX_TOKENS, i32),
        tend=np.zeros(MAX_TOKENS, i32),
        terms=np.zeros(MAX_TOKENS * MAX_TERMS_PER_TOKEN, i32),
        nterms=np.zeros(MAX_TOKENS, i32),
        brk=np.zeros(MAX_TOKENS, np.bool_),
        clause=np.zeros(MAX_TOKENS, i32),
        men_co=np.zeros(MAX_MENTIONS, i32),
        men_s=np.zeros(MAX_MENTIONS, i32),
        men_e=np.zeros(MAX_MENTIONS, i32),
        mt_pat=np.zeros(MAX_MATCHES, i32),
        mt_s=np.zeros(MAX_MATCHES, i32),
        mt_e=np.zeros(MAX_MATCHES, i32),
        occ_ev=np.zeros(MAX_OCCURRENCES, i32),
        occ_s=np.zeros(MAX_OCCURRENCES, i32),
        occ_e=np.zeros(MAX_OCCURRENCES, i32),
        occ_w=np.zeros(MAX_OCCURRENCES, np.float64),
        occ_clause=np.zeros(MAX_OCCURRENCES, i32),
        occ_passive=np.zeros(MAX_OCCURRENCES, np.bool_),
        occ_live=np.zeros(MAX_OCCURRENCES, np.bool_),
        dir_co=np.zeros(MAX_DIRECT, i32),
        dir_ev=np.zeros(MAX_DIRECT, i32),
        dir_val=np.zeros(MAX_DIRECT, np.float64),
        dir_obj=np.zeros(MAX_DIRECT, np.bool_),
        score=np.zeros(n_companies, np.float64),
        best_abs=np.zeros(n_companies, np.float64),
        best_role=np.zeros(n_companies, np.int8),
        best_via=np.zeros(n_companies, i32),
        best_ev=np.zeros(n_companies, i32),
        is_touched=np.zeros(n_companies, np.bool_),
        touched=np.zeros(n_companies, i32),
        n_touched=np.zeros(1, np.int64),
        ring_hash=np.zeros(ring_size, np.uint64),
        ring_ts=np.zeros(ring_size, np.int64),
        ring_meta=np.zeros(2, np.int64),
        dir_mark=np.zeros(n_companies, np.bool_),
    )


class Output(NamedTuple):
    """Per-headline results: row i holds headline i's shocks, events and subjects."""

    sh_company: np.ndarray
    sh_symbol: np.ndarray
    sh_score: np.ndarray
    sh_role: np.ndarray
    sh_via: np.ndarray
    sh_event: np.ndarray
    n_shocks: np.ndarray
    ev_id: np.ndarray
    ev_conf: np.ndarray
    n_events: np.ndarray
    sj_company: np.ndarray
    n_subjects: np.ndarray
    confidence: np.ndarray
    novelty: np.ndarray
    n_tokens: np.ndarray


def output_spec(max_shocks: int) -> list[tuple[str, type, int]]:
    """(field, dtype, elements per headline) of every `Output` field, in field order."""
    i32, i8, f64 = np.int32, np.int8, np.float64
    return [
        ("sh_company", i32, max_shocks),
        ("sh_symbol", i32, max_shocks),
        ("sh_score", f64, max_shocks),
        ("sh_role", i8, max_shocks),
        ("sh_via", i32, max_shocks),
        ("sh_event", i32, max_shocks),
        ("n_shocks", i32, 1),
        ("ev_id", i32, MAX_EVENTS_OUT),
        ("ev_conf", f64, MAX_EVENTS_OUT),
        ("n_events", i32, 1),
        ("sj_company", i32, MAX_SUBJECTS_OUT),
        ("n_subjects", i32, 1),
        ("confidence", f64, 1),
        ("novelty", f64, 1),
        ("n_tokens", i32, 1),
    ]


def new_output(n: int, max_shocks: int) -> Output:
    """Allocate results for `n` headlines of up to `max_shocks` shocks each."""
    return Output(**{name: np.zeros(n * k, dt) for name, dt, k in output_spec(max_shocks)})
