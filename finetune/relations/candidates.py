"""Candidate pairs for relation classification, and their text with entity markers.

n2c2 2018 track 2 links an attribute (Arg1: Strength, Dosage, Duration, Frequency, Form, Route,
Reason, ADE) to a drug (Arg2) with a relation named `<Attribute>-Drug`. A classifier is asked about
every attribute-drug pair whose sentences lie at most `max_sentence_distance` sentences apart (UF's
relation extraction did the same with a window of sentences): the answer is the relation type or
`NONE`. Pairs come from the whole note however long it is (nothing is truncated away), and each pair's
text is only the sentences from the first argument's to the last one's, with markers around both
arguments, so that a long note is many short inputs.

Gold relations a pair list misses (arguments further apart than the window) are counted by
`coverage`, never silently lost.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from data_prep.sentences import ClinicalSentenceSplitter
from finetune.corpora.document import Document, Entity

NONE = "NONE"
HEAD_TYPES: tuple[str, ...] = ("Drug",)
ATTRIBUTE_TYPES: tuple[str, ...] = ("Strength", "Dosage", "Duration", "Frequency", "Form", "Route",
                                    "Reason", "ADE")
# Inserted around Arg1 (the attribute) and Arg2 (the drug); added to the tokenizer as special tokens.
MARKERS: tuple[str, str, str, str] = ("[E1]", "[/E1]", "[E2]", "[/E2]")


@dataclass(frozen=True)
class Candidate:
    """One pair a classifier is asked about: `label` is the gold relation type, `NONE` when the
    gold links them by nothing, None when the document has no gold relations to tell."""

    document: str
    attribute: Entity
    head: Entity
    sentence_distance: int
    label: str | None


class Sentences:
    """Sentence numbers of character offsets in one text."""

    def __init__(self, text: str, splitter: ClinicalSentenceSplitter | None = None) -> None:
        self.spans = (splitter or ClinicalSentenceSplitter()).spans(text) or [(0, len(text))]
        self._starts = [start for start, _ in self.spans]

    def of(self, offset: int) -> int:
        """The sentence holding `offset` (a character between two sentences: the one before it)."""
        return max(0, bisect.bisect_right(self._starts, offset) - 1)


def relation_pairs(document: Document) -> dict[tuple[str, str], str]:
    """(Arg1 id, Arg2 id) -> relation type of the document's gold relations."""
    return {(relation["args"].get("Arg1", ""), relation["args"].get("Arg2", "")): relation["type"]
            for relation in document.relations}


def candidate_pairs(document: Document, max_sentence_distance: int = 1,
                    attribute_types: Sequence[str] = ATTRIBUTE_TYPES,
                    head_types: Sequence[str] = HEAD_TYPES,
                    sentences: Sentences | None = None) -> list[Candidate]:
    """Every attribute-head pair of `document` at most `max_sentence_distance` sentences apart, in
    the order of the attributes, then the heads, in the text."""
    if max_sentence_distance < 0:
        raise ValueError("max_sentence_distance must be 0 or more")
    sentences = sentences or Sentences(document.text)
    gold = relation_pairs(document) if document.relations else None
    attributes = sorted((e for e in document.entities if e.type in attribute_types), key=_position)
    heads = sorted((e for e in document.entities if e.type in head_types), key=_position)
    head_sentences = [sentences.of(head.start) for head in heads]
    pairs = []
    for attribute in attributes:
        where = sentences.of(attribute.start)
        for head, head_sentence in zip(heads, head_sentences, strict=True):
            distance = abs(head_sentence - where)
            if distance > max_sentence_distance or head is attribute:
                continue
            label = None if gold is None else gold.get((attribute.id or "", head.id or ""), NONE)
            pairs.append(Candidate(document.id, attribute, head, distance, label))
    return pairs


def coverage(document: Document, candidates: Sequence[Candidate]) -> tuple[int, int]:
    """(gold relations that are among the candidates, gold relations of the document)."""
    asked = {(c.attribute.id, c.head.id) for c in candidates}
    gold = relation_pairs(document)
    return sum(pair in asked for pair in gold), len(gold)


def marked_text(text: str, candidate: Candidate, sentences: Sentences) -> str:
    """The sentences from the first argument's to the last one's, typed markers around both arguments."""
    first = sentences.of(min(candidate.attribute.start, candidate.head.start))
    last = sentences.of(max(candidate.attribute.end - 1, candidate.head.end - 1))
    start, end = sentences.spans[first][0], sentences.spans[last][1]
    start = min(start, candidate.attribute.start, candidate.head.start)
    end = max(end, candidate.attribute.end, candidate.head.end)
    opening_1, closing_1, opening_2, closing_2 = MARKERS
    # Closing markers before opening ones at the same offset, so adjacent arguments never nest wrongly.
    # Each opening marker is followed by its entity's type ("[E1] Strength 40 mg [/E1]"): typed
    # markers tell the classifier what the arguments are, which decides most relation types.
    inserts = sorted([(candidate.attribute.start, 1, f"{opening_1} {candidate.attribute.type}"),
                      (candidate.attribute.end, 0, closing_1),
                      (candidate.head.start, 1, f"{opening_2} {candidate.head.type}"),
                      (candidate.head.end, 0, closing_2)])
    pieces, cursor = [], start
    for offset, _, marker in inserts:
        pieces += [text[cursor:offset], f" {marker} "]
        cursor = offset
    pieces.append(text[cursor:end])
    return "".join(pieces)


def _position(entity: Entity) -> tuple[int, int]:
    return entity.start, entity.end
