"""Words, BIO/BIOES labels and subword alignment for token-classification fine-tuning.

The chain from a `Document` (entities as character offsets) to model inputs:

1. `word_spans`: words with character offsets. A word is a run of word characters or a single
   punctuation character (regex `\\w+|[^\\w\\s]`), so "b.i.d." is six words and "O'Brien" three.
   Clinical text glues punctuation to words ("pain.", "BP:140/90"); splitting it off keeps entity
   edges on word edges. Where an entity boundary still falls inside a word ("Aspirin81" with
   `Drug` = "Aspirin"), the word is cut there and the cut is counted.
2. `label_document`: one label per word in the BIO or BIOES scheme (`B-Drug`, `I-Drug`, `O`...)
   through `place_entities`, the one entity -> word label step (also used for the dev set's words
   and the BIO file writers' whitespace words): an entity labels every word its spans touch, so
   where words are not cut at its edges a span ending inside a word covers all of that word.
3. `finetune.tagging.windows.tokenize_words` and `finetune.training.data.window_features` (the next steps): HF
   fast-tokenizer subwords of those words (`is_split_into_words=True`); the first subword of each
   word carries the word's label, other subwords and special tokens get `IGNORE_INDEX` (-100,
   ignored by the loss).

`entities_from_labels` is the way back (labels -> entities with character offsets); for
non-overlapping entities whose spans start and end on non-space characters it is the exact
inverse of `label_document`.

Overlaps (n2c2 2018 annotates one span as both `Reason` and `ADE`) cannot be expressed by one
BIO sequence. `LabelSettings.overlap` picks the policy:

- `type_priority`: entities are taken in the order of `type_priority` (first listed wins; types
  not listed come after all listed ones), then longest first, then leftmost; an entity that
  shares a word with one already taken is dropped.
- `longest`: the longest entity wins (covered characters), ties go to the leftmost.
- `groups`: `groups` lists disjoint sets of types, each labelled as its own sequence (e.g.
  `[[Drug, Strength, ...], [Reason], [ADE]]` gives three label sequences); overlaps left inside a
  group are settled by `longest`; entities of a type in no group are dropped.

Every dropped entity is counted by type in `LabelStats`; nothing is lost silently.

Discontinuous entities (brat `Reason 10 15;20 25`), `LabelSettings.discontinuous`:
`fragments` (default) labels each fragment as its own B-I run, so decoding gives one entity per
fragment; `span` labels the whole range from the first fragment's start to the last fragment's
end. Either way the number of discontinuous entities is counted.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from finetune.corpora.document import Document, Entity
from gatortron_common.logging import InputError

WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
SCHEMES: tuple[str, ...] = ("BIO", "BIOES")
OVERLAP_POLICIES: tuple[str, ...] = ("type_priority", "longest", "groups")
DISCONTINUOUS_MODES: tuple[str, ...] = ("fragments", "span")
OUTSIDE = "O"
IGNORE_INDEX = -100  # label id the HF/torch cross-entropy loss ignores

Span = tuple[int, int]


@dataclass
class LabelSettings:
    """How entities become word labels.

    Args:
        scheme: `BIO` or `BIOES`.
        overlap: `type_priority`, `longest` or `groups` (see the module docstring).
        type_priority: entity types, highest priority first (for `type_priority`).
        groups: disjoint lists of types, one label sequence each (for `groups`).
        discontinuous: `fragments` (label each fragment) or `span` (label first start..last end).
    """

    scheme: str = "BIO"
    overlap: str = "longest"
    type_priority: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    discontinuous: str = "fragments"

    def validate(self) -> None:
        """Raise `InputError` naming the bad setting."""
        if self.scheme not in SCHEMES:
            raise InputError(f"scheme={self.scheme!r}: expected one of {', '.join(SCHEMES)}")
        if self.overlap not in OVERLAP_POLICIES:
            raise InputError(f"overlap={self.overlap!r}: expected one of {', '.join(OVERLAP_POLICIES)}")
        if self.discontinuous not in DISCONTINUOUS_MODES:
            raise InputError(f"discontinuous={self.discontinuous!r}: expected one of "
                             f"{', '.join(DISCONTINUOUS_MODES)}")
        if self.overlap == "groups":
            if not self.groups:
                raise InputError("overlap=groups needs a non-empty 'groups' list of type lists")
            seen: Counter[str] = Counter(t for group in self.groups for t in group)
            repeated = sorted(t for t, n in seen.items() if n > 1)
            if repeated:
                raise InputError(f"groups must be disjoint; listed more than once: {', '.join(repeated)}")


@dataclass
class LabelStats:
    """What labelling kept, dropped and changed, by entity type (counts only, never text).

    Args:
        labelled: entities that received labels.
        dropped_overlap: entities dropped because they share a word with a kept one.
        dropped_ungrouped: entities whose type is in no group (`overlap=groups`).
        dropped_no_words: entities whose spans hold no word (whitespace only).
        discontinuous: discontinuous entities seen (labelled per `LabelSettings.discontinuous`).
        split_words: words cut in two or more because an entity boundary fell inside them.
    """

    labelled: Counter[str] = field(default_factory=Counter)
    dropped_overlap: Counter[str] = field(default_factory=Counter)
    dropped_ungrouped: Counter[str] = field(default_factory=Counter)
    dropped_no_words: Counter[str] = field(default_factory=Counter)
    discontinuous: int = 0
    split_words: int = 0

    @property
    def dropped(self) -> Counter[str]:
        """All dropped entities by type, whatever the reason."""
        return self.dropped_overlap + self.dropped_ungrouped + self.dropped_no_words

    def add(self, placement: Placement) -> None:
        """Count what `place_entities` labelled and left out."""
        for counter, indices in ((self.labelled, placement.labelled),
                                 (self.dropped_overlap, placement.overlapping),
                                 (self.dropped_no_words, placement.without_words)):
            counter.update(placement.entities[index].type for index in indices)

    def merge(self, other: LabelStats) -> None:
        self.labelled.update(other.labelled)
        self.dropped_overlap.update(other.dropped_overlap)
        self.dropped_ungrouped.update(other.dropped_ungrouped)
        self.dropped_no_words.update(other.dropped_no_words)
        self.discontinuous += other.discontinuous
        self.split_words += other.split_words

    def as_dict(self) -> dict[str, Any]:
        return {"labelled": dict(self.labelled), "dropped_overlap": dict(self.dropped_overlap),
                "dropped_ungrouped": dict(self.dropped_ungrouped),
                "dropped_no_words": dict(self.dropped_no_words),
                "discontinuous": self.discontinuous, "split_words": self.split_words}


@dataclass
class DocumentLabels:
    """A document's words and their label sequences.

    Args:
        words: `(start, end)` character offsets of each word in the document text.
        labels: one label sequence per label set (one set unless `overlap=groups`, then one per
            group, in group order); each has one label per word.
        stats: what was kept and dropped.
    """

    words: list[Span]
    labels: list[list[str]]
    stats: LabelStats

    def word_texts(self, text: str) -> list[str]:
        """The words as strings (what a tokenizer is given); `text` is the document text."""
        return [text[start:end] for start, end in self.words]


# --- words ----------------------------------------------------------------------------------------

def word_spans(text: str, boundaries: Iterable[int] = ()) -> tuple[list[Span], int]:
    """Words of `text` as character spans, cut at every boundary that falls inside a word.

    Args:
        text: the document text.
        boundaries: character offsets that must be word edges (entity starts and ends).

    Returns:
        The word spans in text order and how many regex words had to be cut.
    """
    cuts = sorted(set(boundaries))
    spans: list[Span] = []
    cut_words = 0
    for match in WORD_PATTERN.finditer(text):
        start, end = match.span()
        # Boundaries strictly inside (start, end) split this word.
        low = bisect.bisect_right(cuts, start)
        high = bisect.bisect_left(cuts, end)
        if low == high:
            spans.append((start, end))
            continue
        cut_words += 1
        edge = start
        for cut in cuts[low:high]:
            spans.append((edge, cut))
            edge = cut
        spans.append((edge, end))
    return spans, cut_words


def word_span_blocks(text: str, size: int) -> Iterator[list[Span]]:
    """The words `word_spans(text)` finds (no boundaries), `size` at a time, found lazily.

    A long note's word list costs far more than its text (a tuple of two ints per word), so the
    prediction path for long notes reads its words in blocks and never holds them all.

    Args:
        text: the document text.
        size: the most words per block (at least 1).
    """
    if size < 1:
        raise InputError(f"block size {size} must be at least 1")
    matches = (match.span() for match in WORD_PATTERN.finditer(text))
    while block := list(itertools.islice(matches, size)):
        yield block


# --- entities -> labels ---------------------------------------------------------------------------

def _pieces(entity: Entity, discontinuous: str) -> list[Span]:
    """The character ranges that get labels: each fragment, or the whole first..last range."""
    if entity.fragments and discontinuous == "span":
        return [(entity.start, entity.end)]
    return entity.spans


def _covered(pieces: Sequence[Span]) -> int:
    return sum(end - start for start, end in pieces)


def snap_to_words(words: Sequence[Span], starts: Sequence[int], start: int,
                  end: int) -> tuple[int, int, bool] | None:
    """The words a character span touches, snapping outward to whole words.

    Args:
        words: sorted word spans of the text.
        starts: their start offsets (for bisect).
        start, end: the character span (end exclusive).

    Returns:
        (first, last, widened): word indices (inclusive) and whether the span does not start
        and end on those words' edges (the caller reports it); None if it covers no word.
    """
    first = bisect.bisect_right(starts, start) - 1
    if first < 0 or words[first][1] <= start:
        first += 1  # `start` lies in whitespace before word `first + 1`
    last = bisect.bisect_left(starts, end) - 1
    if first >= len(words) or last < first:
        return None
    return first, last, words[first][0] != start or words[last][1] != end


def _label_run(labels: list[str], first: int, last: int, entity_type: str, scheme: str) -> None:
    if scheme == "BIOES" and last - first == 1:
        labels[first] = f"S-{entity_type}"
        return
    labels[first] = f"B-{entity_type}"
    for index in range(first + 1, last):
        labels[index] = f"I-{entity_type}"
    if scheme == "BIOES":
        labels[last - 1] = f"E-{entity_type}"


@dataclass
class Placement:
    """One label per word, and what became of each entity (indices into `entities`, ascending).

    Args:
        entities: the entities placed.
        labels: one label per word.
        labelled: entities that got labels.
        overlapping: entities left out because they share a word with one taken before them.
        without_words: entities left out because their spans hold no word (whitespace only).
        widened: labelled entities whose spans do not start and end on word edges (their labels
            cover the whole words).
    """

    entities: Sequence[Entity]
    labels: list[str]
    labelled: list[int] = field(default_factory=list)
    overlapping: list[int] = field(default_factory=list)
    without_words: list[int] = field(default_factory=list)
    widened: list[int] = field(default_factory=list)


def place_entities(words: Sequence[Span], entities: Sequence[Entity], settings: LabelSettings) -> Placement:
    """Label `words` with `entities`: the one entity -> word labels step of fine-tuning and of the
    BIO file writers.

    Each entity's ranges (per `settings.discontinuous`) cover the words they touch. Entities are
    taken in the order of the overlap policy: types listed in `type_priority` first (only under
    `overlap=type_priority`), then the longest (covered characters), then the leftmost, then the
    first in `entities`; one that shares a word with an entity taken before it is left out (a
    word holds one label). Under `groups` the caller places each group's entities on its own.
    """
    priority = settings.type_priority if settings.overlap == "type_priority" else []
    rank = {entity_type: index for index, entity_type in enumerate(priority)}
    pieces = [_pieces(entity, settings.discontinuous) for entity in entities]

    def key(index: int) -> tuple[int, int, int, int]:
        entity = entities[index]
        return (rank.get(entity.type, len(rank)), -_covered(pieces[index]), entity.start, index)

    placement = Placement(entities=entities, labels=[OUTSIDE] * len(words))
    starts = [start for start, _ in words]
    taken = [False] * len(words)
    for index in sorted(range(len(entities)), key=key):
        runs = [run for run in (snap_to_words(words, starts, *piece) for piece in pieces[index]) if run]
        if not runs:
            placement.without_words.append(index)
            continue
        if any(any(taken[first:last + 1]) for first, last, _ in runs):
            placement.overlapping.append(index)
            continue
        for first, last, _ in runs:
            taken[first:last + 1] = [True] * (last + 1 - first)
            _label_run(placement.labels, first, last + 1, entities[index].type, settings.scheme)
        placement.labelled.append(index)
        if any(widened for _, _, widened in runs):
            placement.widened.append(index)
    for found in (placement.labelled, placement.overlapping, placement.without_words, placement.widened):
        found.sort()
    return placement


def label_document(document: Document, settings: LabelSettings | None = None) -> DocumentLabels:
    """Words of `document` and their BIO/BIOES labels under the overlap policy of `settings`.

    Args:
        document: text and entities (character offsets, end exclusive).
        settings: scheme, overlap policy, discontinuous handling; defaults to BIO + `longest`.

    Returns:
        Words (cut at every entity boundary, kept or dropped, so all label sets share them),
        one label sequence per label set, and counts of what was labelled and dropped.
    """
    settings = settings or LabelSettings()
    settings.validate()
    document.check_offsets(f"document {document.id}")
    boundaries = [edge for entity in document.entities
                  for piece in _pieces(entity, settings.discontinuous) for edge in piece]
    words, cut_words = word_spans(document.text, boundaries)
    stats = LabelStats(split_words=cut_words,
                       discontinuous=sum(1 for entity in document.entities if entity.fragments))
    if settings.overlap == "groups":
        grouped = {entity_type for group in settings.groups for entity_type in group}
        for entity in document.entities:
            if entity.type not in grouped:
                stats.dropped_ungrouped[entity.type] += 1
        label_sets = []
        for group in settings.groups:
            members = [entity for entity in document.entities if entity.type in set(group)]
            placement = place_entities(words, members, settings)
            stats.add(placement)
            label_sets.append(placement.labels)
        return DocumentLabels(words=words, labels=label_sets, stats=stats)
    placement = place_entities(words, document.entities, settings)
    stats.add(placement)
    return DocumentLabels(words=words, labels=[placement.labels], stats=stats)


# --- labels -> entities ---------------------------------------------------------------------------

def _parse(label: str, scheme: str, index: int) -> tuple[str, str | None]:
    if label == OUTSIDE:
        return OUTSIDE, None
    tag, sep, entity_type = label.partition("-")
    if not sep or not entity_type or tag not in tuple(scheme) or tag == OUTSIDE:
        # The value is not echoed: labels read from a misaligned file can be words (PHI).
        raise InputError(f"label #{index + 1} is not a {scheme} label (expected O or "
                         f"{'/'.join(t + '-TYPE' for t in scheme if t != OUTSIDE)})")
    return tag, entity_type


def entities_from_labels(words: Sequence[Span], labels: Sequence[str], scheme: str = "BIO") -> list[Entity]:
    """Entities (character offsets) from one label per word; the inverse of `label_document`.

    Ill-formed sequences are read the usual lenient (conlleval) way: an `I-X` (or BIOES `E-X`)
    that does not continue an `X` entity starts a new one. Each entity spans its first word's
    start to its last word's end.

    Args:
        words: word spans, as in `DocumentLabels.words`.
        labels: one label per word.
        scheme: `BIO` or `BIOES`.
    """
    if scheme not in SCHEMES:
        raise InputError(f"scheme={scheme!r}: expected one of {', '.join(SCHEMES)}")
    if len(words) != len(labels):
        raise InputError(f"{len(labels)} labels for {len(words)} words")
    entities: list[Entity] = []
    current: Entity | None = None
    for index, ((start, end), label) in enumerate(zip(words, labels, strict=True)):
        tag, entity_type = _parse(label, scheme, index)
        continues = current is not None and current.type == entity_type and tag in ("I", "E")
        if continues:
            current.end = end
        elif tag != OUTSIDE:
            current = Entity(start=start, end=end, type=entity_type)
            entities.append(current)
        if tag in (OUTSIDE, "E", "S"):
            current = None
    return entities


def label_vocabulary(types: Iterable[str], scheme: str = "BIO") -> list[str]:
    """All labels for `types`: `O` first, then each type (sorted) with every tag of the scheme.

    Args:
        types: entity types (repeats are fine).
        scheme: `BIO` or `BIOES`.
    """
    tags = ("B", "I") if scheme == "BIO" else ("B", "I", "E", "S")
    return [OUTSIDE] + [f"{tag}-{entity_type}" for entity_type in sorted(set(types)) for tag in tags]
