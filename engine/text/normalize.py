"""Turn arbitrary headline text into the plain ASCII the tokeniser kernel reads."""

from __future__ import annotations

import unicodedata

_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": " - ",
        "\u2014": " - ",
        "\u2015": " - ",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2026": "...",
    }
)
_CONTROL = str.maketrans({c: " " for c in [*range(0, 32), 127]})
_ENTITIES = (
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", '"'),
    ("&#39;", "'"),
    ("&apos;", "'"),
    ("&nbsp;", " "),
)


def normalize(text: str | bytes, max_chars: int = 2000) -> tuple[str, bool]:
    """Return `text` as ASCII with entities decoded and dashes spaced, and whether it was cut.

    Invalid UTF-8 is replaced, never raised; text longer than `max_chars` is cut to it.
    """
    if isinstance(text, bytes):
        text = text[: max_chars * 4].decode("utf-8", errors="replace")
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    if "&" in text:
        for entity, char in _ENTITIES:
            text = text.replace(entity, char)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_PUNCT))
        text = text.encode("ascii", errors="ignore").decode("ascii")
    if not text.isprintable():
        text = text.translate(_CONTROL)
    return text, truncated
