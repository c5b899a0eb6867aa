"""Plain-Python tokeniser: the reference for `engine.kernels.tokenize_nb` and the compiler's tokeniser.

A token is a run of letters and digits (apostrophes allowed inside), a `$CASHTAG` or a `#hashtag`.
Its hash is 64-bit FNV-1a over its lower-case bytes (cashtags hash with their `$`), so patterns and
aliases compiled here find the same hashes the kernel computes from text.
"""

from __future__ import annotations

from dataclasses import dataclass

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = 0xFFFFFFFFFFFFFFFF

# Token flags (bits); the kernel uses the same values.
CAP = 1  # first character upper-case or a digit
UPPER = 2  # has a letter and no lower-case letter
CASHTAG = 4  # written as $SYMBOL
HASHTAG = 8  # written as #word
BOUNDARY = 16  # a clause boundary (; | ! ? " - " or sentence end) comes before this token
POSSESSIVE = 32  # a trailing 's was dropped
COMMA = 64  # a comma (not a thousands separator) comes before this token: pattern gaps stop here

MAX_TOKENS = 256


def fnv1a(data: bytes, h: int = FNV_OFFSET) -> int:
    """Return the 64-bit FNV-1a hash of `data`, continuing from `h`."""
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def _is_word_byte(b: int) -> bool:
    return 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b >= 128


def _is_ticker_byte(b: int) -> bool:
    return 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b == 46 or b == 45


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its hash, flags and byte span in the normalised text."""

    hash: int
    flags: int
    start: int
    end: int
    text: str


def _lower(data: bytes) -> bytes:
    return bytes(b + 32 if 65 <= b <= 90 else b for b in data)


def tokenize(text: str | bytes, max_tokens: int = MAX_TOKENS) -> list[Token]:
    """Split normalised text into tokens exactly as `tokenize_nb` does."""
    buf = text.encode("ascii", errors="replace") if isinstance(text, str) else text
    n = len(buf)
    tokens: list[Token] = []
    boundary = False
    comma = False
    i = 0
    while i < n and len(tokens) < max_tokens:
        b = buf[i]
        if b == 44 and not (0 < i < n - 1 and 48 <= buf[i - 1] <= 57 and 48 <= buf[i + 1] <= 57):
            comma = True
            i += 1
            continue
        if b in (59, 124, 33, 63):  # ; | ! ?
            boundary = True
            i += 1
            continue
        if b == 45 and 0 < i < n - 1 and buf[i - 1] == 32 and buf[i + 1] == 32:  # " - "
            boundary = True
            i += 1
            continue
        if b == 46 and i + 1 < n and buf[i + 1] == 32 and i > 0 and 97 <= buf[i - 1] <= 122:
            boundary = True  # a full stop after a lower-case letter ends a sentence
            i += 1
            continue
        if b == 36 and i + 1 < n and (65 <= buf[i + 1] <= 90 or 97 <= buf[i + 1] <= 122):
            j = i + 1
            while j < n and _is_ticker_byte(buf[j]):
                j += 1
            while j > i + 1 and buf[j - 1] in (45, 46):
                j -= 1
            sym = _lower(buf[i + 1 : j]).replace(b"-", b".")
            flags = CASHTAG | CAP | UPPER | (BOUNDARY if boundary else 0) | (COMMA if comma else 0)
            tokens.append(
                Token(fnv1a(b"$" + sym), flags, i, j, "$" + sym.decode("ascii", "replace"))
            )
            boundary = comma = False
            i = j
            continue
        hashtag = b == 35 and i + 1 < n and _is_word_byte(buf[i + 1])
        if hashtag or _is_word_byte(b):
            start = i + 1 if hashtag else i
            j = start
            while j < n and (
                _is_word_byte(buf[j])
                or (buf[j] == 39 and j + 1 < n and _is_word_byte(buf[j + 1]) and j > start)
            ):
                j += 1
            end = j
            flags = HASHTAG if hashtag else 0
            if end - start >= 3 and buf[end - 2] == 39 and buf[end - 1] in (115, 83):  # 's
                end -= 2
                flags |= POSSESSIVE
            word = buf[start:end]
            first = word[0]
            if 65 <= first <= 90 or 48 <= first <= 57:
                flags |= CAP
            has_letter = any(65 <= c <= 90 or 97 <= c <= 122 for c in word)
            if has_letter and not any(97 <= c <= 122 for c in word):
                flags |= UPPER
            if boundary:
                flags |= BOUNDARY
            if comma:
                flags |= COMMA
            tokens.append(
                Token(
                    fnv1a(_lower(word)), flags, start, end, _lower(word).decode("ascii", "replace")
                )
            )
            boundary = comma = False
            i = j
            continue
        i += 1
    return tokens


def word_hash(word: str) -> int:
    """Hash one lower-case word the way the tokeniser does."""
    return fnv1a(word.lower().encode("ascii", errors="replace"))
