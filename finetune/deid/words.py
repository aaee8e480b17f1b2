"""What a word is for de-identification: the word and token patterns, the case- and accent-blind
key of a word (`fold`), digits of any script as ASCII, and case patterns.

The base of `names`, `dates`, `ages`, `guard` and `surrogates`; it imports none of them.
"""

from __future__ import annotations

import functools
import unicodedata

import regex

WORD = regex.compile(r"\p{L}[\p{L}\p{M}]*")  # what "a word" means for the no-leak rule
DIGITS = regex.compile(r"\p{N}+")
# A name word keeps O'Brien together; hyphenated parts are words of their own.
NAME_WORD = r"\p{L}[\p{L}\p{M}]*(?:['’]\p{L}[\p{L}\p{M}]*)*"
TOKEN = regex.compile(rf"(?P<word>{NAME_WORD})|(?P<num>\p{{N}}+)|(?P<other>[^\p{{L}}\p{{N}}]+)")


@functools.lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """Case- and accent-blind key of a word ("José", "JOSE" and NFD "Jose\u0301" give "jose")."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def digit_value(char: str) -> int | None:
    """The value of a digit of any script (None: not a digit)."""
    return unicodedata.digit(char, None)


def ascii_digits(text: str) -> str:
    """`text` with every digit written as its ASCII digit (other characters kept)."""
    if text.isascii():
        return text
    out = []
    for char in text:
        value = digit_value(char) if char.isnumeric() else None
        out.append(str(value) if value is not None else char)
    return "".join(out)


def cased(word: str, like: str) -> str:
    """`word` in the case pattern of `like` (JOHN -> WILLIAM, john -> william, else as listed)."""
    letters = [char for char in like if char.isalpha()]
    if len(letters) > 1 and like.isupper():
        return word.upper()
    if like.islower():
        return word.lower()
    if len(letters) == 1 and like.isupper():
        return word.upper()
    return word
