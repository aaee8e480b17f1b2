"""The first, per-match implementation of the clinical sentence rules, kept as the test oracle for
the vectorized splitter in data_prep/sentences.py (same rules, same output). Not shipped.

Sentence splitting for clinical notes.

General-purpose splitters are trained on news and books; notes break them in predictable ways:
dosing abbreviations (p.o., b.i.d., q.h.s.) look like sentence ends, vitals end in numbers
("BP 120/80."), numbered lists start with "1.", ALL-CAPS section headers end in a colon, and a
line break may end a sentence (lists, tables, headers) or be a hard wrap inside one.

Rules, in order:
- A blank line always ends a sentence.
- A single line break ends a sentence unless it is a hard wrap: the line does not end in
  . ! ? : and either the next line starts in lowercase, or the line is long (wrapped prose) and
  the next line does not start a list item or a header.
- An ALL-CAPS header ending in ":" at the start of a line is a sentence of its own.
- Inside a line, . ! ? (optionally followed by a closing quote or bracket) ends a sentence when
  the next word starts with an uppercase letter, a digit, or an opening quote/bracket, unless the
  word before it is a title or an abbreviation that never ends a sentence (Dr., e.g., vs.), a single
  initial ("J."), or a list number at the start of the line ("1.").
Abbreviations that can end a sentence (b.i.d., p.o., mg.) end one when the next word is capitalized.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words before a period that never end a sentence (lowercased, without the final period).
NEVER_ENDING_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "approx", "no", "nos",
    "fig", "ref", "resp", "dept", "ca", "cf", "viz", "etc.", "al", "pt", "pts", "ct.", "min",
})
# A line this long that does not end in . ! ? : is taken as hard-wrapped prose.
WRAPPED_LINE_CHARS = 55

_TERMINAL = re.compile(r"[.!?]+[\"')\]]*(?=[ \t]+\S)")
_HEADER = re.compile(r"^[ \t]*[A-Z][A-Z0-9 /&,()'-]{2,60}:(?=[ \t]+\S)", re.MULTILINE)
_LINE_BREAKS = re.compile(r"[ \t]*\n\s*")
_LIST_OR_HEADER_START = re.compile(r"(?:\d{1,3}[.)]|[-*\u2022])[ \t]|[A-Z][A-Z0-9 /&,()'-]{2,60}:")
_LIST_NUMBER_LINE_START = re.compile(r"^[ \t]*\d{1,3}$", re.MULTILINE)
_WORD_BEFORE = re.compile(r"(\S+)$")


@dataclass(frozen=True)
class ClinicalSentenceSplitter:
    """Split clinical text into sentences.

    Args:
        wrapped_line_chars: lines at least this long that end without punctuation are hard wraps.
    """

    wrapped_line_chars: int = WRAPPED_LINE_CHARS

    def split(self, text: str) -> list[str]:
        """The sentences of `text`, stripped, in order (wrapped line breaks kept inside)."""
        return [text[start:end] for start, end in self.spans(text)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of each sentence, whitespace excluded."""
        cuts = sorted({*self._line_cuts(text), *self._header_cuts(text), *self._terminal_cuts(text)})
        spans, start = [], 0
        for cut in [*cuts, len(text)]:
            piece = text[start:cut]
            stripped = piece.strip()
            if stripped:
                left = start + len(piece) - len(piece.lstrip())
                spans.append((left, left + len(stripped)))
            start = cut
        return spans

    def _line_cuts(self, text: str) -> list[int]:
        cuts = []
        for match in _LINE_BREAKS.finditer(text):
            if match.group().count("\n") > 1 or not self._is_hard_wrap(text, match.start(), match.end()):
                cuts.append(match.start())
        return cuts

    def _is_hard_wrap(self, text: str, line_end: int, next_start: int) -> bool:
        if next_start >= len(text) or line_end == 0 or text[line_end - 1] in ".!?:":
            return False
        if text[next_start].islower():
            return True
        line_start = text.rfind("\n", 0, line_end) + 1
        return (line_end - line_start >= self.wrapped_line_chars
                and not _LIST_OR_HEADER_START.match(text, next_start))

    @staticmethod
    def _header_cuts(text: str) -> list[int]:
        return [match.end() for match in _HEADER.finditer(text)]

    @staticmethod
    def _terminal_cuts(text: str) -> list[int]:
        cuts = []
        for match in _TERMINAL.finditer(text):
            after = match.end()
            next_char = text[after:after + 64].lstrip()[:1]
            if not (next_char.isupper() or next_char.isdigit() or next_char in "\"'([["):
                continue
            before = _WORD_BEFORE.search(text, max(0, match.start() - 40), match.start())
            word = before.group(1) if before else ""
            if _never_ends(word, text, match.start()):
                continue
            cuts.append(after)
        return cuts


def _never_ends(word: str, text: str, period: int) -> bool:
    """True when the period at `period` after `word` cannot end a sentence."""
    if text[period] != ".":
        return False
    bare = word.lstrip("([\"'").lower()
    if bare in NEVER_ENDING_ABBREVIATIONS:
        return True
    if len(bare) == 1 and word[-1:].isupper():  # an initial: "J. Smith"
        return True
    line_start = text.rfind("\n", 0, period) + 1
    return bool(_LIST_NUMBER_LINE_START.search(text, line_start, period))  # "1. Metoprolol"
