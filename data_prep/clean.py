"""Document cleaning before sentence splitting: the vocabulary's Unicode normalization, and
whitespace made regular without losing the line structure the sentence splitter reads.
De-identification placeholders such as [**Name**] or [NAME] pass through unchanged.

Why str.replace loops and not one regex: Python's regex engine scans notes at ~25-50 MB/s per
pattern; `in` and `replace` run at memory speed and most notes need none of the fixes."""

from __future__ import annotations

import hashlib

from tokenizer.words import normalize_text

_ODD_SPACES = ("\t", "\f", "\v", "\u00a0")  # become plain spaces
# Control characters data_prep uses to mark sentence and document ends when tokenizing a batch
# (data_prep.documents). BERT drops control characters, so removing them changes no token.
SENTENCE_MARK, DOCUMENT_MARK = "\x1e", "\x1d"


def clean_document(text: str, unicode_form: str) -> str:
    """Normalize Unicode as the vocabulary was built, remove the two mark characters, unify line
    ends, collapse runs of spaces (tabs, form feeds, no-break spaces included) and of blank lines,
    drop spaces at line ends, strip the ends."""
    text = normalize_text(text, unicode_form)
    for mark in (SENTENCE_MARK, DOCUMENT_MARK):
        if mark in text:
            text = text.replace(mark, "")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for odd in _ODD_SPACES:
        if odd in text:
            text = text.replace(odd, " ")
    while "  " in text:
        text = text.replace("  ", " ")
    if " \n" in text:  # one pass is enough: no two spaces are left in a row
        text = text.replace(" \n", "\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() if text[:1].isspace() or text[-1:].isspace() else text


def content_hash(text: str) -> bytes:
    """Exact-duplicate key of a cleaned document (16 bytes)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
