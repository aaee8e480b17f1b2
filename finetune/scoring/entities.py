"""Entity-level scores on character offsets, for every format: `strict` and `relaxed`.

- strict: a predicted entity is a true positive when a gold entity has exactly the same spans
  (all fragments of a discontinuous entity, in order) and the same `type`. Matching is one to
  one: two identical predictions of one gold entity are one TP and one FP.
- relaxed: same `type` and at least one character of overlap (summed over all fragment pairs).
  Matching is one to one and greedy: candidate pairs are taken by largest overlap first, then
  by fewest characters outside the overlap, then gold order, then prediction order; a pair is
  kept when neither side is matched yet.

The `type` is the entity's label (`problem`, `Drug`, and for i2b2 2014 the subtype `PATIENT`);
`per_type` is the micro score of each type, `micro` / `macro` as in `finetune.scoring.metrics`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from finetune.corpora.document import Document, Entity
from finetune.scoring.metrics import Counts, exact_match_counts, summarize

Spans = tuple[tuple[int, int], ...]


def spans_of(entity: Entity) -> Spans:
    """The entity's character ranges as a hashable tuple (one range unless discontinuous)."""
    return tuple((int(start), int(end)) for start, end in entity.spans)


def overlap(first: Spans, second: Spans) -> int:
    """Characters two span lists share."""
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in first for s2, e2 in second)


def length(spans: Spans) -> int:
    """Characters covered by a span list (fragments do not overlap each other)."""
    return sum(end - start for start, end in spans)


def strict_counts(gold: Sequence[Entity], pred: Sequence[Entity]) -> dict[str, Counts]:
    """Per-type counts of exact (spans + type) one-to-one matches in one document."""
    return exact_match_counts(((entity.type, spans_of(entity)) for entity in gold),
                              ((entity.type, spans_of(entity)) for entity in pred))


def _greedy_matches(gold: list[Spans], pred: list[Spans]) -> int:
    """How many one-to-one overlap matches the greedy rule of the module docstring makes."""
    candidates = []
    for g, gold_spans in enumerate(gold):
        for p, pred_spans in enumerate(pred):
            shared = overlap(gold_spans, pred_spans)
            if shared:
                outside = length(gold_spans) + length(pred_spans) - 2 * shared
                candidates.append((-shared, outside, g, p))
    candidates.sort()
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    for _, _, g, p in candidates:
        if g not in used_gold and p not in used_pred:
            used_gold.add(g)
            used_pred.add(p)
    return len(used_gold)


def relaxed_counts(gold: Sequence[Entity], pred: Sequence[Entity]) -> dict[str, Counts]:
    """Per-type counts of one-to-one overlap matches (same type) in one document."""
    gold_by_type: dict[str, list[Spans]] = defaultdict(list)
    pred_by_type: dict[str, list[Spans]] = defaultdict(list)
    for entity in gold:
        gold_by_type[entity.type].append(spans_of(entity))
    for entity in pred:
        pred_by_type[entity.type].append(spans_of(entity))
    counts: dict[str, Counts] = {}
    for name in gold_by_type.keys() | pred_by_type.keys():
        golds, preds = gold_by_type.get(name, []), pred_by_type.get(name, [])
        matched = _greedy_matches(golds, preds)
        counts[name] = Counts(tp=matched, fp=len(preds) - matched, fn=len(golds) - matched)
    return counts


def score_entities(pairs: Iterable[tuple[Document, Document | None]]) -> dict[str, Any]:
    """The `strict` and `relaxed` views over paired documents.

    Args:
        pairs: (gold, prediction) per document; a None prediction counts as no entities.

    Returns:
        `{"strict": {"micro", "macro", "per_type"}, "relaxed": {...}}`.
    """
    views = {"strict": strict_counts, "relaxed": relaxed_counts}
    per_document: dict[str, list[Counts]] = {name: [] for name in views}
    per_type: dict[str, dict[str, Counts]] = {name: defaultdict(Counts) for name in views}
    for gold, pred in pairs:
        predicted = pred.entities if pred is not None else []
        for name, count in views.items():
            by_type = count(gold.entities, predicted)
            document_total = Counts()
            for entity_type, counts in by_type.items():
                per_type[name][entity_type].add(counts)
                document_total.add(counts)
            per_document[name].append(document_total)
    return {name: summarize(per_document[name], per_type[name]) for name in views}
