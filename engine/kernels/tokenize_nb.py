"""Tokenise normalised ASCII bytes into hashes and flags (reference: `engine.text.tokens`)."""

from __future__ import annotations

import numpy as np
from numba import njit

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)

CAP = 1
UPPER = 2
CASHTAG = 4
HASHTAG = 8
BOUNDARY = 16
POSSESSIVE = 32
COMMA = 64


@njit(cache=True, inline="always")
def _word_byte_nb(b: int) -> bool:
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b >= 128


@njit(cache=True, inline="always")
def _ticker_byte_nb(b: int) -> bool:
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 46 or b == 45


@njit(cache=True, inline="always")
def _lower_nb(b: int) -> int:
    return b + 32 if 65 <= b <= 90 else b


@njit(cache=True)
def fnv1a_lower_nb(buf: np.ndarray, start: int, end: int, h: np.uint64) -> np.uint64:
    """Continue a 64-bit FNV-1a hash over the lower-cased bytes buf[start:end]."""
    for k in range(start, end):
        h = (h ^ np.uint64(_lower_nb(buf[k]))) * FNV_PRIME
    return h


@njit(cache=True)
def tokenize_nb(
    buf: np.ndarray,
    start: int,
    end: int,
    hashes: np.ndarray,
    flags: np.ndarray,
    tok_start: np.ndarray,
    tok_end: np.ndarray,
) -> int:
    """Tokenise buf[start:end] into the output arrays; return the token count.

    Offsets written to tok_start/tok_end are absolute positions in `buf`.
    """
    max_tokens = hashes.shape[0]
    n_tok = 0
    boundary = False
    comma = False
    i = start
    while i < end and n_tok < max_tokens:
        b = buf[i]
        if b == 44 and not (
            i > start and i < end - 1 and 48 <= buf[i - 1] <= 57 and 48 <= buf[i + 1] <= 57
        ):
            comma = True
            i += 1
            continue
        if b == 59 or b == 124 or b == 33 or b == 63:
            boundary = True
            i += 1
            continue
        if b == 45 and i > start and i < end - 1 and buf[i - 1] == 32 and buf[i + 1] == 32:
            boundary = True
            i += 1
            continue
        if b == 46 and i + 1 < end and buf[i + 1] == 32 and i > start and 97 <= buf[i - 1] <= 122:
            boundary = True
            i += 1
            continue
        if b == 36 and i + 1 < end and ((65 <= buf[i + 1] <= 90) or (97 <= buf[i + 1] <= 122)):
            j = i + 1
            while j < end and _ticker_byte_nb(buf[j]):
                j += 1
            while j > i + 1 and (buf[j - 1] == 45 or buf[j - 1] == 46):
                j -= 1
            h = (FNV_OFFSET ^ np.uint64(36)) * FNV_PRIME
            for k in range(i + 1, j):
                c = buf[k]
                if c == 45:
                    c = 46
                h = (h ^ np.uint64(_lower_nb(c))) * FNV_PRIME
            f = CASHTAG | CAP | UPPER
            if boundary:
                f |= BOUNDARY
            if comma:
                f |= COMMA
            hashes[n_tok] = h
            flags[n_tok] = f
            tok_start[n_tok] = i
            tok_end[n_tok] = j
            n_tok += 1
            boundary = False
            comma = False
            i = j
            continue
        hashtag = b == 35 and i + 1 < end and _word_byte_nb(buf[i + 1])
        if hashtag or _word_byte_nb(b):
            s = i + 1 if hashtag else i
            j = s
            while j < end:
                c = buf[j]
                if _word_byte_nb(c) or (
                    c == 39 and j + 1 < end and _word_byte_nb(buf[j + 1]) and j > s
                ):
                    j += 1
                else:
                    break
            e = j
            f = HASHTAG if hashtag else 0
            if e - s >= 3 and buf[e - 2] == 39 and (buf[e - 1] == 115 or buf[e - 1] == 83):
                e -= 2
                f |= POSSESSIVE
            first = buf[s]
            if (65 <= first <= 90) or (48 <= first <= 57):
                f |= CAP
            has_letter = False
            has_lower = False
            for k in range(s, e):
                c = buf[k]
                if 97 <= c <= 122:
                    has_letter = True
                    has_lower = True
                elif 65 <= c <= 90:
                    has_letter = True
            if has_letter and not has_lower:
                f |= UPPER
            if boundary:
                f |= BOUNDARY
            if comma:
                f |= COMMA
            hashes[n_tok] = fnv1a_lower_nb(buf, s, e, FNV_OFFSET)
            flags[n_tok] = f
            tok_start[n_tok] = s
            tok_end[n_tok] = e
            n_tok += 1
            boundary = False
            comma = False
            i = j
            continue
        i += 1
    return n_tok
