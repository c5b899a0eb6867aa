"""Text normalisation and tokenisation shared by the scorer and its data compilers."""

from engine.text.normalize import normalize
from engine.text.tokens import Token, tokenize

__all__ = ["Token", "normalize", "tokenize"]
