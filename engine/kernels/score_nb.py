"""Score one headline end to end, and a batch of them, without leaving compiled code.

tokenise → link entities → lexicon terms → patterns → clauses, hedges, negation → events on
subjects/objects → spill along the typed link graph → themes → scale → top shocks.
Reference: `engine.scoring.reference.score_tokens`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.kernels.arena_nb import (
    model_from_arena_nb,
    output_from_arena_nb,
    workspace_from_arena_nb,
)
from engine.kernels.entities_nb import link_entities_nb, shouting_nb
from engine.kernels.layout import MAX_EVENTS_OUT, MAX_SUBJECTS_OUT, ModelArrays, Output, Workspace
from engine.kernels.patterns_nb import match_patterns_nb, token_terms_nb
from engine.kernels.simhash_nb import nearest_recent_nb, simhash_nb
from engine.kernels.tokenize_nb import BOUNDARY, COMMA, tokenize_nb

PAT_EVENT = 0
PAT_THEME = 1
PAT_HEDGE = 2
PAT_NEGATION = 3
PAT_BOUNDARY = 4

ROLE_SUBJECT = 0
ROLE_OBJECT = 1
ROLE_REL0 = 2  # + relation code: competitor, supplier, customer, partner, peer
ROLE_THEME = 7


@njit(cache=True)
def symbol_at_nb(m: ModelArrays, company: int, day: int) -> int:
    """Return the symbol id company traded under on `day`, or -1 if it was not listed."""
    for k in range(m.co_lst_ptr[company], m.co_lst_ptr[company + 1]):
        if m.lst_from[k] <= day <= m.lst_to[k]:
            return int(m.lst_symbol[k])
    return -1


@njit(cache=True, inline="always")
def _add_to_nb(
    score: np.ndarray,
    best_abs: np.ndarray,
    best_role: np.ndarray,
    best_via: np.ndarray,
    best_ev: np.ndarray,
    is_touched: np.ndarray,
    touched: np.ndarray,
    n_touched: np.ndarray,
    c: int,
    value: float,
    role: int,
    via: int,
    event: int,
) -> None:
    """Add `value` to company c's score (touching it first), keeping the role, via and event
    of its largest part: `_add_nb` on the workspace's arrays, for a loop that took them out
    of the struct once."""
    if not is_touched[c]:
        is_touched[c] = True
        touched[n_touched[0]] = c
        n_touched[0] += 1
        score[c] = 0.0
        best_abs[c] = -1.0
    score[c] += value
    a = abs(value)
    if a > best_abs[c]:
        best_abs[c] = a
        best_role[c] = role
        best_via[c] = via
        best_ev[c] = event


@njit(cache=True, inline="always")
def _add_nb(ws: Workspace, c: int, value: float, role: int, via: int, event: int) -> None:
    _add_to_nb(
        ws.score, ws.best_abs, ws.best_role, ws.best_via, ws.best_ev, ws.is_touched,
        ws.touched, ws.n_touched, c, value, role, via, event,
    )  # fmt: skip


@njit(cache=True)
def _named_earlier_nb(ws: Workspace, k: int) -> bool:
    """True when mention k's company was already mentioned before it."""
    for j in range(k):
        if ws.men_co[j] == ws.men_co[k]:
            return True
    return False


@njit(cache=True)
def _comma_between_nb(flags: np.ndarray, lo: int, hi: int) -> bool:
    """True when a token in [lo, hi) comes right after a comma."""
    for i in range(lo, hi):
        if flags[i] & COMMA:
            return True
    return False


@njit(cache=True)
def _mentions_for_clause_nb(ws: Workspace, n_men: int, clause: int, n_clauses: int) -> int:
    """Return the clause whose mentions an event in `clause` applies to, or -1."""
    for d in range(n_clauses):
        for c in (clause - d, clause + d):  # nearest clause first, earlier before later
            if c < 0 or c >= n_clauses:
                continue
            for k in range(n_men):
                if ws.clause[ws.men_s[k]] == c:
                    return c
    return -1


@njit(cache=True, inline="always")
def score_headline_nb(
    m: ModelArrays,
    ws: Workspace,
    out: Output,
    row: int,
    buf: np.ndarray,
    start: int,
    end: int,
    day: int,
    ts: int,
    source_w: float,
    hints: np.ndarray,
    use_novelty: bool,
) -> None:
    """Score buf[start:end] and write its shocks, events and subjects into `out` at `row`."""
    # 1. tokens
    n_tok = tokenize_nb(buf, start, end, ws.hashes, ws.flags, ws.tstart, ws.tend)
    out.n_tokens[row] = n_tok
    allow_bare = not shouting_nb(ws.flags, n_tok)
    # 2. entities
    n_men = link_entities_nb(
        ws.hashes,
        ws.flags,
        n_tok,
        day,
        allow_bare,
        m.ent_keys,
        m.ent_vals,
        m.node_pay_start,
        m.node_pay_end,
        m.pay_company,
        m.pay_kind,
        m.pay_capmask,
        m.pay_from,
        m.pay_to,
        ws.men_co,
        ws.men_s,
        ws.men_e,
    )
    # 3. lexicon
    token_terms_nb(
        buf,
        ws.tstart,
        ws.tend,
        ws.hashes,
        ws.flags,
        n_tok,
        m.term_keys,
        m.term_vals,
        m.stem_keys,
        m.stem_vals,
        m.max_stem,
        ws.terms,
        ws.nterms,
    )
    n_mt = match_patterns_nb(
        ws.terms,
        ws.nterms,
        ws.flags,
        n_tok,
        m.term_pat_ptr,
        m.term_pat,
        m.pat_slot_start,
        m.pat_slot_end,
        m.slot_gap,
        m.slot_term_ptr,
        m.slot_terms,
        ws.mt_pat,
        ws.mt_s,
        ws.mt_e,
    )
    # 4. clauses and hedges
    for i in range(n_tok):
        ws.brk[i] = (ws.flags[i] & BOUNDARY) != 0
    conf = 1.0
    for k in range(n_mt):
        kind = m.pat_kind[ws.mt_pat[k]]
        if kind == PAT_BOUNDARY and ws.mt_s[k] > 0:
            ws.brk[ws.mt_s[k]] = True
        elif kind == PAT_HEDGE:
            conf = min(conf, m.pat_weight[ws.mt_pat[k]])
    clause = 0
    for i in range(n_tok):
        if ws.brk[i] and i > 0:
            clause += 1
        ws.clause[i] = clause
    n_clauses = clause + 1 if n_tok > 0 else 0
    # 5. event occurrences: negation, then one per (event, clause), then overlap suppression
    n_occ = 0
    for k in range(n_mt):
        p = ws.mt_pat[k]
        if m.pat_kind[p] != PAT_EVENT:
            continue
        e = m.pat_target[p]
        s = ws.mt_s[k]
        factor = 1.0
        for q in range(n_mt):
            if m.pat_kind[ws.mt_pat[q]] != PAT_NEGATION:
                continue
            ne = ws.mt_e[q]
            if ne < s and s - ne <= m.negation_window and ws.clause[ne] == ws.clause[s]:
                factor = 0.0 if m.ev_cancel[e] else -0.5
                break
        if factor == 0.0:
            continue
        w = m.pat_weight[p] * factor
        c = ws.clause[s]
        merged = False
        for r in range(n_occ):
            if ws.occ_ev[r] == e and ws.occ_clause[r] == c:
                longer = ws.mt_e[k] - s > ws.occ_e[r] - ws.occ_s[r]
                if abs(w) > abs(ws.occ_w[r]) or (abs(w) == abs(ws.occ_w[r]) and longer):
                    ws.occ_w[r] = w
                    ws.occ_s[r] = s
                    ws.occ_e[r] = ws.mt_e[k]
                    ws.occ_passive[r] = m.pat_passive[p]
                merged = True
                break
        if merged or n_occ >= ws.occ_ev.shape[0]:
            continue
        ws.occ_ev[n_occ] = e
        ws.occ_s[n_occ] = s
        ws.occ_e[n_occ] = ws.mt_e[k]
        ws.occ_w[n_occ] = w
        ws.occ_clause[n_occ] = c
        ws.occ_passive[n_occ] = m.pat_passive[p]
        ws.occ_live[n_occ] = True
        n_occ += 1
    for r in range(n_occ):
        span_r = ws.occ_e[r] - ws.occ_s[r]
        for q in range(n_occ):
            if q == r or not ws.occ_live[q] or ws.occ_ev[q] == ws.occ_ev[r]:
                continue
            if ws.occ_s[q] > ws.occ_e[r] or ws.occ_s[r] > ws.occ_e[q]:
                continue
            span_q = ws.occ_e[q] - ws.occ_s[q]
            if span_q > span_r or (
                span_q == span_r
                and m.ev_strength[ws.occ_ev[q]] * abs(ws.occ_w[q])
                > m.ev_strength[ws.occ_ev[r]] * abs(ws.occ_w[r])
            ):
                ws.occ_live[r] = False
                break
    n_types = m.ev_strength.shape[0]
    for r in range(n_occ):
        for q in range(n_occ):
            if (
                ws.occ_live[r]
                and ws.occ_live[q]
                and m.ev_override[ws.occ_ev[r] * n_types + ws.occ_ev[q]]
            ):
                ws.occ_live[r] = False  # e.g. "partnership" gives way to "acquisition"
        # 6. direct hits on subjects and objects
    ws.n_touched[0] = 0
    n_dir = 0
    net = 0.0
    n_ev = 0
    ev_base = row * MAX_EVENTS_OUT
    for r in range(n_occ):
        if not ws.occ_live[r]:
            continue
        e = ws.occ_ev[r]
        w = ws.occ_w[r]
        net += m.ev_strength[e] * m.ev_subject[e] * w
        if n_ev < MAX_EVENTS_OUT:
            out.ev_id[ev_base + n_ev] = e
            out.ev_conf[ev_base + n_ev] = w * conf
            n_ev += 1
        target_clause = _mentions_for_clause_nb(ws, n_men, ws.occ_clause[r], n_clauses)
        for k in range(n_men + hints.shape[0]):
            if k < n_men:
                if target_clause < 0 or ws.clause[ws.men_s[k]] != target_clause:
                    continue
                co = ws.men_co[k]
                if _named_earlier_nb(ws, k):
                    continue  # the first mention decides the role ("Charter to buy TWC $TWC $CHTR")
                before = ws.men_e[k] <= ws.occ_s[r] or target_clause != ws.occ_clause[r]
                if not before and _comma_between_nb(ws.flags, ws.occ_s[r] + 1, ws.men_s[k] + 1):
                    continue  # "Regulators seize X, sell its assets to Y": Y is no object of "seize"
            else:
                if n_men > 0:
                    break
                co = hints[k - n_men]
                before = True
            is_object = (not before) != ws.occ_passive[r]
            mult = m.ev_object[e] if is_object else m.ev_subject[e]
            if mult == 0.0:
                continue
            value = m.ev_strength[e] * mult * w
            dup = False
            for d in range(n_dir):
                if ws.dir_co[d] == co and ws.dir_ev[d] == e:
                    dup = True
                    if abs(value) > abs(ws.dir_val[d]):
                        ws.dir_val[d] = value
                        ws.dir_obj[d] = is_object
                    break
            if dup or n_dir >= ws.dir_co.shape[0]:
                continue
            ws.dir_co[n_dir] = co
            ws.dir_ev[n_dir] = e
            ws.dir_val[n_dir] = value
            ws.dir_obj[n_dir] = is_object
            n_dir += 1
    out.n_events[row] = n_ev
    for d in range(n_dir):
        ws.dir_mark[ws.dir_co[d]] = True
        role = ROLE_OBJECT if ws.dir_obj[d] else ROLE_SUBJECT
        _add_nb(ws, ws.dir_co[d], ws.dir_val[d], role, -1, ws.dir_ev[d])
    # 7. spillover along typed links, except to companies the same event hits directly
    #    (an acquirer is not also a competitor of its own target in that headline). The
    #    arrays are taken out of the structs once: a struct's array read in a loop costs two
    #    atomic reference counts a read (about 10 times the loop's own work)
    g_ptr, g_rel, g_nbr, g_w = m.g_ptr, m.g_rel, m.g_nbr, m.g_w
    ev_prop, ev_prop_obj = m.ev_prop, m.ev_prop_obj
    dir_co, dir_ev, dir_obj, dir_val, dir_mark = (
        ws.dir_co, ws.dir_ev, ws.dir_obj, ws.dir_val, ws.dir_mark
    )  # fmt: skip
    score, best_abs, best_role, best_via, best_ev = (
        ws.score, ws.best_abs, ws.best_role, ws.best_via, ws.best_ev
    )  # fmt: skip
    is_touched, touched, n_touched = ws.is_touched, ws.touched, ws.n_touched
    for d in range(n_dir):
        c = dir_co[d]
        e = dir_ev[d]
        for k in range(g_ptr[c], g_ptr[c + 1]):
            rel = g_rel[k]
            mult = ev_prop_obj[e * 5 + rel] if dir_obj[d] else ev_prop[e * 5 + rel]
            if mult == 0.0:
                continue
            t = g_nbr[k]
            direct = False
            if dir_mark[t]:
                for q in range(n_dir):
                    if dir_co[q] == t and dir_ev[q] == e:
                        direct = True
                        break
            if direct:
                continue
            _add_to_nb(
                score, best_abs, best_role, best_via, best_ev, is_touched, touched, n_touched,
                t, dir_val[d] * mult * g_w[k], ROLE_REL0 + rel, c, e,
            )  # fmt: skip
    for d in range(n_dir):
        dir_mark[dir_co[d]] = False
    # 8. themes
    for k in range(n_mt):
        p = ws.mt_pat[k]
        if m.pat_kind[p] != PAT_THEME:
            continue
        th = m.pat_target[p]
        pol = m.th_polarity[th]
        if pol == 0.0:
            pol = 1.0 if net > 0 else (-1.0 if net < 0 else 0.0)
        if pol == 0.0:
            continue
        dup = False
        for q in range(k):
            if m.pat_kind[ws.mt_pat[q]] == PAT_THEME and m.pat_target[ws.mt_pat[q]] == th:
                dup = True
                break
        if dup:
            continue
        base = m.th_strength[th] * pol * m.pat_weight[p]
        for j in range(m.th_ptr[th], m.th_ptr[th + 1]):
            _add_nb(ws, m.th_member[j], base * m.th_weight[j], ROLE_THEME, th, -1)
    # 9. novelty and scale
    novelty = 1.0
    if use_novelty and n_tok > 0:
        h = simhash_nb(ws.hashes, n_tok)
        count = ws.ring_meta[0]
        pos = ws.ring_meta[1]
        if count > 0:
            dist = nearest_recent_nb(
                ws.ring_hash, ws.ring_ts, count, pos, h, ts, m.novelty_window_ns
            )
            if dist <= m.dup_distance:
                novelty = m.dup_factor
        ws.ring_hash[pos] = h
        ws.ring_ts[pos] = ts
        ws.ring_meta[1] = (pos + 1) % ws.ring_hash.shape[0]
        ws.ring_meta[0] = min(count + 1, ws.ring_hash.shape[0])
    scale = conf * novelty * source_w
    out.confidence[row] = conf
    out.novelty[row] = novelty
    # 10. top shocks by |score|, listed on `day`
    max_out = out.sh_company.shape[0] // out.n_shocks.shape[0]
    base = row * max_out
    n_sh = 0
    for t in range(ws.n_touched[0]):
        c = ws.touched[t]
        ws.is_touched[c] = False
        v = ws.score[c] * scale
        if v > 1.0:
            v = 1.0
        elif v < -1.0:
            v = -1.0
        if abs(v) < m.min_abs:
            continue
        sym = symbol_at_nb(m, c, day)
        if sym < 0:
            continue
        # insertion into the row, kept sorted by |score| descending
        pos = n_sh
        if n_sh == max_out:
            if abs(v) <= abs(out.sh_score[base + max_out - 1]):
                continue
            pos = max_out - 1
        else:
            n_sh += 1
        while pos > 0 and abs(out.sh_score[base + pos - 1]) < abs(v):
            out.sh_company[base + pos] = out.sh_company[base + pos - 1]
            out.sh_symbol[base + pos] = out.sh_symbol[base + pos - 1]
            out.sh_score[base + pos] = out.sh_score[base + pos - 1]
            out.sh_role[base + pos] = out.sh_role[base + pos - 1]
            out.sh_via[base + pos] = out.sh_via[base + pos - 1]
            out.sh_event[base + pos] = out.sh_event[base + pos - 1]
            pos -= 1
        out.sh_company[base + pos] = c
        out.sh_symbol[base + pos] = sym
        out.sh_score[base + pos] = v
        out.sh_role[base + pos] = ws.best_role[c]
        out.sh_via[base + pos] = ws.best_via[c]
        out.sh_event[base + pos] = ws.best_ev[c]
    out.n_shocks[row] = n_sh
    # 11. subjects: companies named (or hinted), once each, in text order
    n_sj = 0
    for k in range(n_men + hints.shape[0]):
        if k < n_men:
            co = ws.men_co[k]
        else:
            if n_men > 0:
                break
            co = hints[k - n_men]
        seen = False
        for q in range(n_sj):
            if out.sj_company[row * MAX_SUBJECTS_OUT + q] == co:
                seen = True
                break
        if not seen and n_sj < MAX_SUBJECTS_OUT:
            out.sj_company[row * MAX_SUBJECTS_OUT + n_sj] = co
            n_sj += 1
    out.n_subjects[row] = n_sj


ROW_FIELDS = 5  # per headline in `rows`: start, end, day, ts (ns), end of its hints


@njit(cache=True)
def score_batch_nb(
    m_arena: np.ndarray,
    m_idx: np.ndarray,
    m_ip: np.ndarray,
    m_fp: np.ndarray,
    ws_arena: np.ndarray,
    ws_idx: np.ndarray,
    out_arena: np.ndarray,
    out_idx: np.ndarray,
    buf: np.ndarray,
    rows: np.ndarray,
    hints: np.ndarray,
    source_w: np.ndarray,
    use_novelty: bool,
) -> None:
    """Score every headline into its row of the output, in order.

    Headline i is buf[rows[5i] : rows[5i + 1]], published on day rows[5i + 2] at rows[5i + 3] ns;
    its hinted companies are hints[rows[5i - 1] : rows[5i + 4]] (from 0 for the first).
    Model, workspace and output arrive packed in byte arenas (see `arena_nb`): few arguments
    keep the call cheap.
    """
    m = model_from_arena_nb(m_arena, m_idx, m_ip, m_fp)
    ws = workspace_from_arena_nb(ws_arena, ws_idx)
    out = output_from_arena_nb(out_arena, out_idx)
    for i in range(source_w.shape[0]):
        r = i * ROW_FIELDS
        first = rows[r - 1] if i > 0 else 0
        score_headline_nb(
            m, ws, out, i, buf, rows[r], rows[r + 1], rows[r + 2], rows[r + 3], source_w[i],
            hints[first : rows[r + 4]], use_novelty,
        )  # fmt: skip
