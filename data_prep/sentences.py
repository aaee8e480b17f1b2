"""Sentence splitting for clinical notes.

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
  the next word starts with an uppercase letter, a digit, or an opening quote/bracket (or lies 64
  or more blanks away), unless the word before it is a title or an abbreviation that never ends a
  sentence (Dr., e.g., vs.), a single initial ("J."), or a list number at the start of the line
  ("1.").
Abbreviations that can end a sentence (b.i.d., p.o., mg.) end one when the next word is capitalized.

Why vectorized: a note has a sentence every ~55 characters, so any per-sentence Python work caps
the splitter near 10 MB/s, below what data_prep needs. The rules are evaluated with numpy over the
code points of many documents at once (joined by blank lines, which always end a sentence); only
rare cases (non-ASCII letters next to a candidate boundary, long lines before a capitalized next
line) take a per-candidate Python check. tests/reference_sentences.py holds the plain per-match
implementation of the same rules; the tests require identical output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy

# Words before a period that never end a sentence (lowercased, without the final period).
NEVER_ENDING_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "approx", "no", "nos",
    "fig", "ref", "resp", "dept", "ca", "cf", "viz", "etc.", "al", "pt", "pts", "ct.", "min",
})
# A line this long that does not end in . ! ? : is taken as hard-wrapped prose.
WRAPPED_LINE_CHARS = 55
# How far the rules look: the word before a period, the spaces before the next word.
WORD_WINDOW = 40
NEXT_WORD_WINDOW = 64

_HEADER_CHARS = "A-Z0-9 /&,()'-"
_HEADER_MIN, _HEADER_MAX = 2, 60
_LIST_OR_HEADER_START = re.compile(r"(?:\d{1,3}[.)]|[-*\u2022])[ \t]|[A-Z][A-Z0-9 /&,()'-]{2,60}:")
_LIST_NUMBER_LINE_START = re.compile(r"^[ \t]*\d{1,3}$", re.MULTILINE)
_WORD_BEFORE = re.compile(r"(\S+)$")
_DOCUMENT_JOINER = "\n\n"  # a blank line: always a sentence end, and never part of one

_NEWLINE, _SPACE, _TAB, _PERIOD, _COLON = 10, 32, 9, 46, 58
_TERMINALS = (46, 33, 63)  # . ! ?
_CLOSERS = (34, 39, 41, 93)  # " ' ) ]
_OPENERS = (34, 39, 40, 91)  # " ' ( [
_LEADING_STRIP = "([\"'"
_LEADING_STRIP_CODES = tuple(map(ord, _LEADING_STRIP))
_ASCII_SPACE = numpy.array([chr(b).isspace() for b in range(128)])
_ABBREVIATION_CHARS = 8  # longest abbreviation key packed into one uint64


def _pack(word: str) -> int:
    return sum(ord(char) << (8 * i) for i, char in enumerate(word))


# Which byte values may follow a header's first letter.
_HEADER_TABLE = numpy.array([bool(re.fullmatch(f"[{_HEADER_CHARS}]", chr(b))) for b in range(256)])
_ABBREVIATION_KEYS = numpy.array(sorted(_pack(w) for w in NEVER_ENDING_ABBREVIATIONS), dtype=numpy.uint64)
assert max(map(len, NEVER_ENDING_ABBREVIATIONS)) <= _ABBREVIATION_CHARS


@cache
def _unicode_spaces() -> numpy.ndarray:
    """Non-ASCII code points that str.isspace() and regex \\s treat as whitespace (all below U+3001)."""
    return numpy.array([c for c in range(128, 0x3001) if chr(c).isspace()], dtype=numpy.uint32)


@dataclass(frozen=True)
class ClinicalSentenceSplitter:
    """Split clinical text into sentences.

    Args:
        wrapped_line_chars: lines at least this long that end without punctuation are hard wraps.
    """

    wrapped_line_chars: int = WRAPPED_LINE_CHARS

    def split(self, text: str) -> list[str]:
        """The sentences of `text`, stripped, in order (wrapped line breaks kept inside).

        Each call costs ~1 ms of numpy set-up: for many documents, use `split_many`."""
        return [text[start:end] for start, end in self.spans(text)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of each sentence, whitespace excluded."""
        starts, ends = _Cutter(text, self.wrapped_line_chars).sentence_spans()
        return list(zip(starts.tolist(), ends.tolist(), strict=True))

    def boundaries(self, text: str) -> numpy.ndarray:
        """Sorted offsets of the cuts between the sentences of `text`. Each cut is a whitespace
        character between two sentences (so a tokenizer never sees a word across it); pieces
        between cuts that hold only whitespace are no sentences."""
        return _Cutter(text, self.wrapped_line_chars).cuts()

    def split_many(self, texts: Sequence[str]) -> tuple[list[str], numpy.ndarray]:
        """Split many documents at once: (all sentences in document order, sentences per document).

        The same sentences as `split` on each text; much faster on many short documents. ASCII and
        other documents are processed as two groups (one byte per character is ~4x less to scan).
        """
        counts = numpy.zeros(len(texts), dtype=numpy.int64)
        ascii_ids = [i for i, text in enumerate(texts) if text.isascii()]
        groups = [ascii_ids]
        if len(ascii_ids) < len(texts):
            ascii_set = set(ascii_ids)
            groups.append([i for i in range(len(texts)) if i not in ascii_set])
        per_group: list[tuple[list[int], list[str], numpy.ndarray]] = []
        for ids in groups:
            if not ids:
                continue
            joined = _DOCUMENT_JOINER.join(texts[i] for i in ids)
            starts, ends = _Cutter(joined, self.wrapped_line_chars).sentence_spans()
            sentences = [joined[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
            bounds = numpy.cumsum([len(texts[i]) + len(_DOCUMENT_JOINER) for i in ids])
            group_counts = numpy.bincount(numpy.searchsorted(bounds, starts, "right"), minlength=len(ids))
            counts[ids] = group_counts
            per_group.append((ids, sentences, group_counts))
        if len(per_group) == 1:
            return per_group[0][1], counts
        # Interleave the groups back into document order.
        first = numpy.zeros(len(texts), dtype=numpy.int64)
        for ids, _, group_counts in per_group:
            first[ids] = numpy.cumsum(group_counts) - group_counts
        source = numpy.zeros(len(texts), dtype=numpy.int8)
        source[per_group[1][0]] = 1
        flat: list[str] = []
        for group, start, count in zip(source.tolist(), first.tolist(), counts.tolist(), strict=True):
            flat.extend(per_group[group][1][start:start + count])
        return flat, counts


class _Cutter:
    """The rules over one text, as numpy arrays of candidate positions. The code points are kept
    one byte each for ASCII text, else four (either way indices are str indices), with a newline
    appended so walks never run off the end (a trailing newline can only cut where nothing but
    whitespace follows, which changes no span). Positions move by short walks (`_walk`) instead
    of full-length passes: only newlines and . ! ? are located over the whole text."""

    def __init__(self, text: str, wrapped_line_chars: int) -> None:
        self.text, self.n, self.wrapped_line_chars = text, len(text), wrapped_line_chars
        if text.isascii():
            codes = numpy.frombuffer(text.encode("ascii"), dtype=numpy.uint8)
        else:
            codes = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32)
        self.codes = numpy.concatenate([codes, numpy.array([_NEWLINE], dtype=codes.dtype)])
        self.newlines = numpy.flatnonzero(self.codes == _NEWLINE)

    # -- character tests on gathered code points ----------------------------------------------
    @staticmethod
    def _space(values: numpy.ndarray) -> numpy.ndarray:
        """str.isspace() of each code point."""
        result = _ASCII_SPACE[numpy.minimum(values, 127)] & (values < 128)
        if values.dtype != numpy.uint8:
            high = numpy.flatnonzero(values >= 128)
            result[high] = numpy.isin(values[high], _unicode_spaces())
        return result

    def _non_space(self, values: numpy.ndarray) -> numpy.ndarray:
        return ~self._space(values)

    @staticmethod
    def _blank(values: numpy.ndarray) -> numpy.ndarray:
        return (values == _SPACE) | (values == _TAB)

    def _char_test(self, positions: numpy.ndarray, low: int, high: int, method: str) -> numpy.ndarray:
        """codes[positions] in [low, high] for ASCII, str.<method>() for other characters."""
        found = self.codes[positions]
        result = (found >= low) & (found <= high)
        for i in numpy.flatnonzero(found >= 128).tolist():
            result[i] = getattr(chr(found[i]), method)()
        return result

    def _walk(self, positions: numpy.ndarray, test: Callable[[numpy.ndarray], numpy.ndarray],
              step: int = 1, limit: int | None = None) -> numpy.ndarray:
        """Move each position by `step` while `test(code point there)` holds, at most `limit`
        steps, never past the text (-1 and n + 1 are where walks off either end stop)."""
        positions = positions.astype(numpy.int64, copy=True)
        active = numpy.arange(len(positions))
        steps = 0
        while len(active) and (limit is None or steps < limit):
            at = positions[active]
            active = active[(at >= 0) & (at <= self.n)]
            active = active[test(self.codes[positions[active]])]
            positions[active] += step
            steps += 1
        return positions

    def _line_start(self, positions: numpy.ndarray) -> numpy.ndarray:
        """Offset of the first character of the line holding each position."""
        index = numpy.searchsorted(self.newlines, positions, "left") - 1
        return numpy.where(index >= 0, self.newlines[numpy.maximum(index, 0)] + 1, 0)

    # -- the three kinds of cut -------------------------------------------------------------
    def line_cuts(self) -> numpy.ndarray:
        """Where a line break ends a sentence: at the spaces/tabs before the break's first newline.
        A break is a whitespace run holding newlines (the regex [ \\t]*\\n\\s*)."""
        newlines = self.newlines
        after = self._walk(newlines + 1, self._space)  # first non-space after each newline
        first = numpy.ones(len(newlines), dtype=bool)
        first[1:] = after[:-1] <= newlines[1:]  # a non-space between two newlines: a new break
        first_index = numpy.flatnonzero(first)
        count = numpy.diff(numpy.append(first_index, len(newlines)))
        next_start = after[numpy.append(first_index[1:] - 1, len(newlines) - 1)]
        line_end = self._walk(newlines[first_index] - 1, self._blank, step=-1) + 1
        cut = (count > 1) | (next_start >= self.n) | (line_end == 0)
        cut |= _member(self.codes[numpy.maximum(line_end - 1, 0)], (*_TERMINALS, _COLON))
        open_ = numpy.flatnonzero(~cut)
        if len(open_):
            starts = next_start[open_]
            lower = self._char_test(starts, 97, 122, "islower")
            long_line = (line_end[open_] - self._line_start(line_end[open_])) >= self.wrapped_line_chars
            wrap = lower.copy()
            for i in numpy.flatnonzero(~lower & long_line).tolist():
                wrap[i] = not _LIST_OR_HEADER_START.match(self.text, int(starts[i]))
            cut[open_[~wrap]] = True
        return line_end[cut]

    def header_cuts(self) -> numpy.ndarray:
        """After an ALL-CAPS header's colon at the start of a line: the regex
        `^[ \\t]*[A-Z][A-Z0-9 /&,()'-]{2,60}:(?=[ \\t]+\\S)` evaluated with walks (its greedy run
        cannot backtrack onto a colon, so the run must end right at one)."""
        c = self.codes
        starts = self._walk(numpy.concatenate([[0], self.newlines[:-1] + 1]), self._blank)
        starts = starts[(c[starts] >= 65) & (c[starts] <= 90)]
        colon = self._walk(starts + 1, self._header_char, limit=_HEADER_MAX + 1)
        run = colon - starts - 1
        found = ((run >= _HEADER_MIN) & (run <= _HEADER_MAX) & (c[colon] == _COLON)
                 & self._blank(c[numpy.minimum(colon + 1, self.n)]))
        colon = colon[found]
        next_word = self._walk(colon + 1, self._blank)
        return colon[~self._space(c[next_word]) & (next_word <= self.n)] + 1

    @staticmethod
    def _header_char(values: numpy.ndarray) -> numpy.ndarray:
        return _HEADER_TABLE[numpy.minimum(values, 255)] & (values < 256)

    def terminal_cuts(self) -> numpy.ndarray:
        """After . ! ? (and closing quotes/brackets) that end a sentence."""
        c = self.codes
        marks = numpy.flatnonzero((c == 46) | (c == 33) | (c == 63))
        if not len(marks):
            return marks
        run_first = numpy.ones(len(marks), dtype=bool)
        run_first[1:] = marks[1:] != marks[:-1] + 1
        run_last = numpy.ones(len(marks), dtype=bool)
        run_last[:-1] = run_first[1:]
        period, after = marks[run_first], marks[run_last] + 1  # the run of marks: [period, after)
        after = self._walk(after, lambda v: _member(v, _CLOSERS))
        blank = self._blank(c[after])
        period, after = period[blank], after[blank]
        # Then blanks and a next word; a word beyond the window is no reason to keep the sentence.
        next_word = self._walk(after, self._blank)
        found = ~self._space(c[next_word])
        period, after, next_word = period[found], after[found], next_word[found]
        starts_sentence = ((next_word - after >= NEXT_WORD_WINDOW)
                           | self._char_test(next_word, 65, 90, "isupper")
                           | self._char_test(next_word, 48, 57, "isdigit")
                           | _member(c[next_word], _OPENERS))
        period, after = period[starts_sentence], after[starts_sentence]
        dotted = numpy.flatnonzero(c[period] == _PERIOD)
        if len(dotted):
            keep = numpy.ones(len(period), dtype=bool)
            keep[dotted[self._never_ends(period[dotted])]] = False
            after = after[keep]
        return after

    def _never_ends(self, period: numpy.ndarray) -> numpy.ndarray:
        """For periods before a capitalized word: True where the word before makes it no end."""
        c = self.codes
        word_start = self._walk(period - 1, self._non_space, step=-1, limit=WORD_WINDOW) + 1
        bare_start = numpy.minimum(self._walk(word_start, lambda v: _member(v, _LEADING_STRIP_CODES)),
                                   period)
        bare_length = period - bare_start
        offsets = numpy.arange(_ABBREVIATION_CHARS)
        # The bare word (up to 8 characters), lowercased, packed little-endian into a uint64 key.
        bare = numpy.minimum(bare_start[:, None] + offsets, numpy.maximum(period[:, None] - 1, 0))
        letters = c[bare].astype(numpy.uint64)
        letters[offsets[None, :] >= bare_length[:, None]] = 0
        short = bare_length <= _ABBREVIATION_CHARS
        non_ascii = short & (letters >= 128).any(axis=1)  # lower() and isupper() need Python there
        letters = numpy.where((letters >= 65) & (letters <= 90), letters | 32, letters)
        keys = (letters << (offsets.astype(numpy.uint64) * 8)[None, :]).sum(axis=1, dtype=numpy.uint64)
        never = (bare_length > 0) & short & numpy.isin(keys, _ABBREVIATION_KEYS)
        last = c[numpy.maximum(period - 1, 0)]
        never |= (bare_length == 1) & (last >= 65) & (last <= 90)  # an initial: "J. Smith"
        # A list number at the start of its line: only spaces/tabs, then 1-3 digits, then the period.
        word_length = period - word_start
        word = numpy.minimum(word_start[:, None] + offsets[:3], numpy.maximum(period[:, None] - 1, 0))
        digits = ((c[word] >= 48) & (c[word] <= 57) & (offsets[None, :3] < word_length[:, None])).sum(axis=1)
        numeric = (word_length >= 1) & (word_length <= 3) & (digits == word_length)
        before_word = self._walk(word_start - 1, self._blank, step=-1)  # last non-blank before it
        never |= numeric & (before_word < self._line_start(period))
        for i in numpy.flatnonzero(non_ascii).tolist():  # the exact rule, per candidate
            never[i] = _never_ends_at(self.text, int(period[i]))
        return never

    def cuts(self) -> numpy.ndarray:
        """All cuts inside the text, sorted, each once."""
        cuts = numpy.concatenate([self.line_cuts(), self.header_cuts(), self.terminal_cuts()])
        cuts = numpy.sort(cuts[(cuts > 0) & (cuts < self.n)])
        return cuts[numpy.concatenate([[True], cuts[1:] != cuts[:-1]])] if len(cuts) else cuts

    def sentence_spans(self) -> tuple[numpy.ndarray, numpy.ndarray]:
        """(starts, ends) of the sentences: the text between cuts, stripped, empty pieces dropped."""
        cuts = self.cuts()
        bounds = numpy.concatenate([[0], cuts, [self.n]]).astype(numpy.int64)
        starts = self._walk(bounds[:-1], self._space)
        ends = self._walk(bounds[1:] - 1, self._space, step=-1) + 1
        keep = starts < ends
        return starts[keep], ends[keep]


def _member(values: numpy.ndarray, members: tuple[int, ...]) -> numpy.ndarray:
    """values in members, for a handful of members (numpy.isin sorts: slower on small sets)."""
    result = values == members[0]
    for member in members[1:]:
        result |= values == member
    return result


def _never_ends_at(text: str, period: int) -> bool:
    """The rule for one period (the reference form; used for words with non-ASCII characters)."""
    before = _WORD_BEFORE.search(text, max(0, period - WORD_WINDOW), period)
    word = before.group(1) if before else ""
    bare = word.lstrip(_LEADING_STRIP).lower()
    if bare in NEVER_ENDING_ABBREVIATIONS:
        return True
    if len(bare) == 1 and word[-1:].isupper():  # an initial: "J. Smith"
        return True
    line_start = text.rfind("\n", 0, period) + 1
    return bool(_LIST_NUMBER_LINE_START.search(text, line_start, period))  # "1. Metoprolol"
