"""Chunk-level BIO scores exactly as conlleval.pl (CoNLL-2000 shared task, version 2004-01-26).

Reimplemented from the script's documented behaviour:

- A label is split at its first hyphen into tag and type (`B-LOCATION-OTHER` -> `B`,
  `LOCATION-OTHER`); a label without a hyphen (`O`) has type "".
- A chunk starts at B; at I after O (an I- without a B- starts a chunk); at any non-O tag whose
  type differs from the previous token's type (`B-X I-Y` is two chunks); E/[/] follow the script.
  A chunk ends where the next token starts a new one, is O, or changes type.
- A predicted chunk is correct when it starts and ends at the same tokens as a gold chunk and
  has the same type (checked token by token, as the script does).
- Sentences are separated by a boundary token that is O on both sides and is not counted.
- Precision, recall and FB1 are 0 when undefined; accuracy is the share of tokens whose whole
  label is right (O tokens included).

`format_report` prints the script's own report, line for line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from finetune.scoring.metrics import f1, ratio

_LABEL = re.compile(r"^([^-]*)-(.*)$", re.S)
# (previous tag, tag) pairs between which the script sees a chunk end / a chunk start.
_ENDS = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
_STARTS = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}


def split_label(label: str) -> tuple[str, str]:
    """(tag, type) of a label the way conlleval splits it (a type "0" counts as empty, as in Perl)."""
    match = _LABEL.match(label)
    if not match:
        return label, ""
    tag, kind = match.group(1), match.group(2)
    return tag, kind if kind != "0" else ""


def end_of_chunk(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    """Whether a chunk ended between the previous and the current token (conlleval's rules)."""
    if (prev_tag, tag) in _ENDS:
        return True
    if prev_tag not in ("O", ".") and prev_type != kind:
        return True
    return prev_tag in ("[", "]")


def start_of_chunk(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    """Whether a chunk started between the previous and the current token (conlleval's rules)."""
    if (prev_tag, tag) in _STARTS:
        return True
    if tag not in ("O", ".") and prev_type != kind:
        return True
    return tag in ("[", "]")


@dataclass
class ConllevalResult:
    """The counts conlleval keeps, overall and per chunk type."""

    tokens: int = 0
    correct_tags: int = 0
    found_correct: int = 0
    found_guessed: int = 0
    correct_chunks: int = 0
    found_correct_by_type: Counter = field(default_factory=Counter)
    found_guessed_by_type: Counter = field(default_factory=Counter)
    correct_by_type: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        return ratio(self.correct_chunks, self.found_guessed)

    @property
    def recall(self) -> float:
        return ratio(self.correct_chunks, self.found_correct)

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)

    @property
    def accuracy(self) -> float:
        return ratio(self.correct_tags, self.tokens)

    def types(self) -> list[str]:
        """Chunk types seen on either side, sorted and de-duplicated as the script does it.

        The script's de-duplication compares with the previous name only when that name is
        true in Perl, so an empty type seen on both sides is listed twice; kept for exactness.
        """
        listed: list[str] = []
        last: str | None = None
        for kind in sorted([*self.found_correct_by_type, *self.found_guessed_by_type]):
            if not last or last != kind:
                listed.append(kind)
            last = kind
        return listed

    def type_scores(self, kind: str) -> dict[str, Any]:
        correct = self.correct_by_type[kind]
        precision = ratio(correct, self.found_guessed_by_type[kind])
        recall = ratio(correct, self.found_correct_by_type[kind])
        return {"precision": precision, "recall": recall, "f1": f1(precision, recall),
                "tp": correct, "fp": self.found_guessed_by_type[kind] - correct,
                "fn": self.found_correct_by_type[kind] - correct, "found": self.found_guessed_by_type[kind]}

    def as_dict(self) -> dict[str, Any]:
        """Fractions (0..1), not the percentages of the printed report."""
        return {"tokens": self.tokens, "phrases": self.found_correct, "found": self.found_guessed,
                "correct": self.correct_chunks, "accuracy": self.accuracy, "precision": self.precision,
                "recall": self.recall, "f1": self.f1, "tp": self.correct_chunks,
                "fp": self.found_guessed - self.correct_chunks,
                "fn": self.found_correct - self.correct_chunks,
                "per_type": {kind: self.type_scores(kind) for kind in sorted(set(self.types()))}}


_BOUNDARY = None  # a sentence break: O on both sides, never counted as a token


def _stream(sentences: Iterable[tuple[Sequence[str], Sequence[str]]]):
    for gold, pred in sentences:
        yield from zip(gold, pred, strict=True)
        yield _BOUNDARY


def conlleval(sentences: Iterable[tuple[Sequence[str], Sequence[str]]]) -> ConllevalResult:
    """Score BIO label sequences the way conlleval.pl does.

    Args:
        sentences: (gold labels, predicted labels) per sentence, equally long.

    Returns:
        The counts; `format_report` prints them as the script would.
    """
    result = ConllevalResult()
    in_correct = False
    last_correct, last_correct_type, last_guessed, last_guessed_type = "O", "", "O", ""
    for item in _stream(sentences):
        if item is _BOUNDARY:
            (correct, correct_type), (guessed, guessed_type) = ("O", ""), ("O", "")
        else:
            (correct, correct_type), (guessed, guessed_type) = split_label(item[0]), split_label(item[1])
        gold_ends = end_of_chunk(last_correct, correct, last_correct_type, correct_type)
        pred_ends = end_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if in_correct:
            if gold_ends and pred_ends and last_guessed_type == last_correct_type:
                in_correct = False
                result.correct_chunks += 1
                result.correct_by_type[last_correct_type] += 1
            elif gold_ends != pred_ends or guessed_type != correct_type:
                in_correct = False
        gold_starts = start_of_chunk(last_correct, correct, last_correct_type, correct_type)
        pred_starts = start_of_chunk(last_guessed, guessed, last_guessed_type, guessed_type)
        if gold_starts and pred_starts and guessed_type == correct_type:
            in_correct = True
        if gold_starts:
            result.found_correct += 1
            result.found_correct_by_type[correct_type] += 1
        if pred_starts:
            result.found_guessed += 1
            result.found_guessed_by_type[guessed_type] += 1
        if item is not _BOUNDARY:
            result.correct_tags += correct == guessed and guessed_type == correct_type
            result.tokens += 1
        last_correct, last_correct_type, last_guessed, last_guessed_type = (correct, correct_type, guessed,
                                                                            guessed_type)
    if in_correct:
        result.correct_chunks += 1
        result.correct_by_type[last_correct_type] += 1
    return result


def _percent(numerator: int, denominator: int) -> float:
    # Computed in the script's order (100 * n / d) so the printed rounding is identical.
    return 100 * numerator / denominator if denominator else 0.0


def format_report(result: ConllevalResult) -> str:
    """The report conlleval.pl prints for these counts (percentages, two decimals)."""
    lines = [f"processed {result.tokens} tokens with {result.found_correct} phrases; "
             f"found: {result.found_guessed} phrases; correct: {result.correct_chunks}."]
    if result.tokens:
        precision = _percent(result.correct_chunks, result.found_guessed)
        recall = _percent(result.correct_chunks, result.found_correct)
        lines.append(f"accuracy: {_percent(result.correct_tags, result.tokens):6.2f}%; "
                     f"precision: {precision:6.2f}%; recall: {recall:6.2f}%; "
                     f"FB1: {f1(precision, recall):6.2f}")
    for kind in result.types():
        correct, found = result.correct_by_type[kind], result.found_guessed_by_type[kind]
        precision = _percent(correct, found)
        recall = _percent(correct, result.found_correct_by_type[kind])
        lines.append(f"{kind:>17}: precision: {precision:6.2f}%; recall: {recall:6.2f}%; "
                     f"FB1: {f1(precision, recall):6.2f}  {found}")
    return "\n".join(lines) + "\n"
