"""Fast, seeded building blocks for free text: buffered dice, a word stream and sentence/paragraph makers.

Speed matters because benchmarks generate hundreds of MB. The expensive part of naive generators
is one Python->numpy call per decision; here every random draw is taken in large numpy batches
and handed out from Python lists, so the per-word cost is a list index and a string join.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from synthetic.lexicon import COMMON_WORDS, ZipfTerms

T = TypeVar("T")

_BATCH = 1 << 15


class Dice:
    """Uniform draws in [0, 1) served from a buffer refilled from a numpy Generator."""

    def __init__(self, rng: np.random.Generator, batch: int = _BATCH) -> None:
        self.rng = rng
        self._batch = batch
        self._buf: list[float] = []
        self._pos = 0

    def random(self) -> float:
        if self._pos >= len(self._buf):
            self._buf = self.rng.random(self._batch).tolist()
            self._pos = 0
        value = self._buf[self._pos]
        self._pos += 1
        return value

    def chance(self, p: float) -> bool:
        return self.random() < p

    def below(self, n: int) -> int:
        """Integer in [0, n)."""
        return int(self.random() * n)

    def between(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi], both ends included."""
        return lo + int(self.random() * (hi - lo + 1))

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """`k` distinct items (order random); k is clipped to len(seq)."""
        pool = list(seq)
        out: list[T] = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(self.below(len(pool))))
        return out


class WordStream:
    """Endless stream of words: common clinical words mixed with Zipf pseudo-terms.

    Args:
        rng: seeded generator (shared with the caller).
        term_fraction: share of words drawn from the pseudo-term long tail.
        common: rank-ordered common words (Zipf exponent 1.0 over them).
    """

    def __init__(self, rng: np.random.Generator, term_fraction: float = 0.3,
                 common: Sequence[str] = COMMON_WORDS, batch: int = _BATCH) -> None:
        self.rng = rng
        self.term_fraction = term_fraction
        self._common = ZipfTerms(rng, common, exponent=1.0)
        self._terms = ZipfTerms(rng)
        self._batch = batch
        self._buf: list[str] = []
        self._pos = 0

    def _refill(self) -> None:
        words = self._common.sample_array(self._batch)
        is_term = self.rng.random(self._batch) < self.term_fraction
        words[is_term] = self._terms.sample_array(int(is_term.sum()))
        self._buf = words.tolist()
        self._pos = 0

    def take(self, n: int) -> list[str]:
        """The next `n` words."""
        if self._pos + n <= len(self._buf):  # fast path: one slice, no concatenation
            out = self._buf[self._pos:self._pos + n]
            self._pos += n
            return out
        out = self._buf[self._pos:]
        n -= len(out)
        while n > 0:
            self._refill()
            chunk = self._buf[:n]
            self._pos = len(chunk)
            n -= len(chunk)
            out.extend(chunk)
        return out

    def terms(self, n: int) -> list[str]:
        """`n` words from the pseudo-term tail only (for names of findings, titles...)."""
        return self._terms.sample(n)


_NUMERIC_UNITS = ("mg", "mm", "cm", "days", "weeks", "hours", "mEq/L", "%", "mL", "units", "years")


class Prose:
    """Sentences and paragraphs from a `WordStream`, with optional fixed sentence openers.

    Args:
        dice: buffered uniform draws.
        words: the word stream.
        openers: phrases that may start a sentence ("The patient was", "There is"...).
        opener_rate: share of sentences that start with an opener.
        min_words, max_words: random words per sentence after the opener.
    """

    def __init__(self, dice: Dice, words: WordStream, openers: Sequence[str] = (),
                 opener_rate: float = 0.4, min_words: int = 5, max_words: int = 18) -> None:
        self.dice = dice
        self.words = words
        self._openers = [o.split() for o in openers]
        self.opener_rate = opener_rate if openers else 0.0
        self.min_words = min_words
        self.max_words = max_words

    def sentence_words(self) -> list[str]:
        """One sentence as tokens; punctuation attached, first letter capitalized."""
        dice = self.dice
        tokens = self.words.take(dice.between(self.min_words, self.max_words))
        if dice.random() < self.opener_rate:
            tokens = dice.choice(self._openers) + tokens
        if dice.random() < 0.15:
            # Quantities ("3 days", "12 mm") are a big part of real clinical text.
            unit = dice.choice(_NUMERIC_UNITS)
            amount = f"{dice.between(1, 120)}{'' if unit == '%' else ' '}{unit}"
            tokens.insert(dice.below(len(tokens)) + 1, amount)
        if dice.random() < 0.3 and len(tokens) > 4:
            cut = dice.between(1, len(tokens) - 3)
            tokens[cut] += ","
        first = tokens[0]
        tokens[0] = first[:1].upper() + first[1:]
        tokens[-1] += "."
        return tokens

    def sentence(self) -> str:
        return " ".join(self.sentence_words())

    def words_for(self, n_chars: int) -> list[str]:
        """Whole sentences, as tokens, until about `n_chars` characters (at least one sentence)."""
        out: list[str] = []
        size = 0
        while True:
            tokens = self.sentence_words()
            out.extend(tokens)
            size += sum(map(len, tokens)) + len(tokens)
            if size >= n_chars:
                return out

    def wrapped(self, n_chars: int, width: int = 80, lead: Sequence[str] = ()) -> str:
        """A paragraph of about `n_chars`, hard-wrapped at `width` (line breaks inside sentences)."""
        return hard_wrap([*lead, *self.words_for(n_chars - sum(map(len, lead)))], width)

    def sentence_lines(self, n_chars: int) -> str:
        """About `n_chars` of sentences, one per line (line breaks that end sentences)."""
        lines: list[str] = []
        size = 0
        while size < n_chars or not lines:
            line = self.sentence()
            lines.append(line)
            size += len(line) + 1
        return "\n".join(lines)


def fictional_phone(dice: Dice, area_codes: Sequence[str]) -> str:
    """A phone number in the range reserved for fiction (555-0100..0199), in one of three styles."""
    area = dice.choice(tuple(area_codes))
    number = f"555-{dice.between(100, 199):04d}"
    return dice.choice((f"({area}) {number}", f"{area}-{number}", f"{area}.{number.replace('-', '.')}"))


def hard_wrap(tokens: Sequence[str], width: int) -> str:
    """Greedy line filling of `tokens` to at most `width` characters (longer tokens stand alone).

    Why not `textwrap`: its regex splitting costs several times more and we already have tokens.
    """
    lines: list[str] = []
    current: list[str] = []
    used = -1  # length of the current line; -1 so the first token adds no leading space
    for token in tokens:
        extra = len(token) + 1
        if current and used + extra > width:
            lines.append(" ".join(current))
            current = [token]
            used = len(token)
        else:
            current.append(token)
            used += extra
    if current:
        lines.append(" ".join(current))
    return "\n".join(lines)
