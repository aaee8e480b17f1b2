"""Document cleaning before sentence splitting: the vocabulary's Unicode normalization, and
whitespace made regular without losing the line structure the sentence splitter reads.
De-identification placeholders such as [**Name**] or [NAME] pass through unchanged."""

from __future__ import annotations

import hashlib
import re

from tokenizer.words import normalize_text

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_TRAILING_SPACES = re.compile(r" +\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def clean_document(text: str, unicode_form: str) -> str:
    """Normalize Unicode as the vocabulary was built, unify line ends, collapse runs of spaces and
    of blank lines, strip the ends."""
    text = normalize_text(text, unicode_form).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = _TRAILING_SPACES.sub("\n", text)
    return _MANY_BLANK_LINES.sub("\n\n", text).strip()


def content_hash(text: str) -> bytes:
    """Exact-duplicate key of a cleaned document (16 bytes)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
