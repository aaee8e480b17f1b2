"""Word-level BIO labels <-> character-offset entities, for the token formats (nemo, conll).

A sentence's text is its words joined by single spaces, so word `i` starts where the words before
it and their spaces end.
"""

from __future__ import annotations

from collections.abc import Sequence

from finetune.document import Document, Entity
from finetune.formats.common import entity_where, snap_to_tokens, whitespace_token_spans
from finetune.formats.report import ADJUST, REPAIR, SKIP, FormatReport
from finetune.labels import entities_from_labels
from gatortron_common.logging import InputError

OUTSIDE = "O"


def sentence(words: Sequence[str], labels: Sequence[str], where: str,
             report: FormatReport) -> tuple[str, list[Entity]]:
    """The text of `words` and the entities their BIO `labels` mark.

    Args:
        words: the sentence's words (no whitespace inside).
        labels: one label per word: `O`, `B-<type>` or `I-<type>`.
        where: `file:line`, for errors and notes.
        report: an `I-` label that does not continue an entity of its type starts a new entity
            (noted as a repair).

    Raises:
        InputError: a label that is not O / B-x / I-x (names the word number, not the word).
    """
    text = " ".join(words)
    spans, offset = [], 0
    for word in words:
        spans.append((offset, offset + len(word)))
        offset += len(word) + 1
    previous: str | None = None  # type of the entity the previous word belongs to
    for index, label in enumerate(labels):
        if label == OUTSIDE:
            previous = None
            continue
        prefix, _, type_name = label.partition("-")
        if prefix not in ("B", "I") or not type_name:
            # The value is not echoed: a misaligned file could put a word (PHI) where a label belongs.
            raise InputError(f"{where}: the label of word {index + 1} is not O, B-<type> or I-<type>")
        if prefix == "I" and previous != type_name:
            report.note(REPAIR, "I- label without a B- before it starts a new entity",
                        f"{where} word {index + 1}")
        previous = type_name
    # The decoding itself is the one fine-tuning uses (conlleval's lenient reading).
    return text, entities_from_labels(spans, labels, "BIO")


def labels(document: Document, report: FormatReport) -> tuple[list[str], list[str]]:
    """The document's whitespace words and their BIO labels.

    Entities are placed in order of start (longest first on ties); one that overlaps a word
    already labelled is left out (BIO holds one label per word), one over whitespace only too,
    and spans not on word boundaries widen to whole words; all of these are reported.
    """
    spans = whitespace_token_spans(document.text)
    starts = [start for start, _ in spans]
    words = [document.text[start:end] for start, end in spans]
    tags = [OUTSIDE] * len(spans)
    order = sorted(range(len(document.entities)),
                   key=lambda i: (document.entities[i].start, -document.entities[i].end))
    for index in order:
        entity = document.entities[index]
        where = entity_where(document, entity, index)
        if any(char.isspace() for char in entity.type):
            raise InputError(f"{where}: a label type cannot contain whitespace")
        if entity.fragments and len(entity.fragments) > 1:
            report.note(ADJUST, "discontinuous span written as one span", where)
        covered = snap_to_tokens(spans, starts, entity.start, entity.end)
        if covered is None:
            report.note(SKIP, "span covers no word, left out", where)
            continue
        first, last, widened = covered
        if any(tag != OUTSIDE for tag in tags[first:last + 1]):
            report.note(SKIP, "entity overlaps another, left out of the BIO labels", where)
            continue
        if widened:
            report.note(ADJUST, "span widened to whole tokens", where)
        tags[first] = f"B-{entity.type}"
        for position in range(first + 1, last + 1):
            tags[position] = f"I-{entity.type}"
    return words, tags
