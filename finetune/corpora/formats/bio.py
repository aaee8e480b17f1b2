"""Word-level BIO labels <-> character-offset entities, for the token formats (nemo, conll).

A sentence's text is its words joined by single spaces, so word `i` starts where the words before
it and their spaces end.
"""

from __future__ import annotations

from collections.abc import Sequence

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats.common import entity_where, whitespace_token_spans
from finetune.corpora.formats.report import ADJUST, REPAIR, SKIP, FormatReport
from finetune.tagging.labels import OUTSIDE, LabelSettings, entities_from_labels, place_entities
from gatortron_common.logging import InputError

# How the writers label: BIO, the default overlap policy, a discontinuous entity as one span.
WRITTEN = LabelSettings(scheme="BIO", discontinuous="span")


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
    """The document's whitespace words and their BIO labels, placed as fine-tuning places them
    (`finetune.tagging.labels.place_entities`, its default `longest` overlap policy).

    BIO holds one label per word: of entities sharing a word the longest (then the leftmost) is
    kept and the others left out; one over whitespace only is left out too; spans not on word
    boundaries widen to whole words and discontinuous ones are written as one span. All of these
    are reported.
    """
    spans = whitespace_token_spans(document.text)
    for index, entity in enumerate(document.entities):
        where = entity_where(document, entity, index)
        if any(char.isspace() for char in entity.type):
            raise InputError(f"{where}: a label type cannot contain whitespace")
        if entity.fragments and len(entity.fragments) > 1:
            report.note(ADJUST, "discontinuous span written as one span", where)
    placement = place_entities(spans, document.entities, WRITTEN)
    for indices, kind, message in ((placement.without_words, SKIP, "span covers no word, left out"),
                                   (placement.overlapping, SKIP, "entity overlaps another, left out of the "
                                                                 "BIO labels"),
                                   (placement.widened, ADJUST, "span widened to whole tokens")):
        for index in indices:
            report.note(kind, message, entity_where(document, document.entities[index], index))
    return [document.text[start:end] for start, end in spans], placement.labels
