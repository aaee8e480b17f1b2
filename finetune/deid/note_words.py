"""The words of a note as the word-list rules see them: offsets, folded key, case shape, and whether
the word opens a line or sentence (where a capital says nothing about a name).

Computed once per note and shared by `name_rules` and `place_rules`. A word keeps its combining
marks (NFD "Mu\u0308ller" is one word) and inner apostrophes (O'Brien); hyphens split words.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from finetune.deid.words import NAME_WORD, fold

_WORD = regex.compile(NAME_WORD)
_SENTENCE_GAP = regex.compile(r"\n|[.!?:;]\s")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a note.

    Attributes:
        start: first character.
        end: one past the last character.
        text: the word as written.
        key: `fold(text)`, without a possessive 's.
        shape: `title` (capital first), `upper` (2+ letters, all capitals) or `lower`.
        opens: the first word of a line or sentence.
    """

    start: int
    end: int
    text: str
    key: str
    shape: str
    opens: bool

    @property
    def capital(self) -> bool:
        return self.shape != "lower"

    @property
    def initial(self) -> bool:
        return len(self.text) == 1 and self.text.isupper()


def _shape(text: str) -> str:
    if not text[0].isupper():
        return "lower"
    letters = [char for char in text if char.isalpha()]
    return "upper" if len(letters) > 1 and all(char.isupper() for char in letters) else "title"


def note_words(text: str) -> list[Word]:
    """Every word of `text`, in order."""
    words: list[Word] = []
    previous_end = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        gap = text[previous_end:start]
        opens = not words or bool(_SENTENCE_GAP.search(gap))
        word = match.group()
        key = fold(word).replace("’", "'")
        key = key[:-2] if key.endswith("'s") and len(key) > 3 else key  # "Gonzalez's" looks up as gonzalez
        words.append(Word(start, end, word, key, _shape(word), opens))
        previous_end = end
    return words
