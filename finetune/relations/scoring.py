"""Relation scores the way n2c2 2018 track 2 counts them: per relation type, strict and lenient.

A predicted relation is a true positive when a gold relation of the same type has both arguments
matching: `strict`, each argument with exactly the same spans and entity type; `lenient`, each
argument of the same entity type overlapping the gold one by at least a character. Matching is one to
one (two identical predictions of one gold relation are one TP and one FP); lenient pairs are taken
greedily, largest summed overlap first, then gold order, then prediction order. Arguments are
resolved through the documents' entity ids; a relation naming an id its document lacks is left out
and counted in `unresolved`.

`micro`: P/R/F1 of the counts summed over types; `macro`: the mean over the relation types present
in gold or prediction of each type's precision and recall, F1 from those two means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from finetune.corpora.document import Document, Entity
from finetune.scoring.entities import Spans, overlap, spans_of
from finetune.scoring.metrics import Counts, exact_match_counts, f1, total

Argument = tuple[str, Spans]  # entity type, spans
Key = tuple[str, Argument, Argument]  # relation type, Arg1, Arg2
VIEWS = ("strict", "lenient")


def relation_keys(document: Document) -> tuple[list[Key], int]:
    """(relation type, Arg1, Arg2) of each relation of `document`, and how many named unknown ids."""
    by_id: dict[str, Entity] = {entity.id: entity for entity in document.entities if entity.id}
    keys, unresolved = [], 0
    for relation in document.relations:
        first, second = (by_id.get(relation["args"].get(role, "")) for role in ("Arg1", "Arg2"))
        if first is None or second is None:
            unresolved += 1
            continue
        keys.append((relation["type"], (first.type, spans_of(first)), (second.type, spans_of(second))))
    return keys, unresolved


def strict_counts(gold: list[Key], pred: list[Key]) -> dict[str, Counts]:
    """Per relation type counts of exact one-to-one matches in one document."""
    return exact_match_counts(gold, pred)


def _shared(first: Argument, second: Argument) -> int:
    return overlap(first[1], second[1]) if first[0] == second[0] else 0


def lenient_counts(gold: list[Key], pred: list[Key]) -> dict[str, Counts]:
    """Per relation type counts of one-to-one overlap matches (greedy, see the module docstring)."""
    counts: dict[str, Counts] = {}
    for name in {key[0] for key in gold} | {key[0] for key in pred}:
        golds = [key for key in gold if key[0] == name]
        preds = [key for key in pred if key[0] == name]
        pairs = []
        for g, gold_key in enumerate(golds):
            for p, pred_key in enumerate(preds):
                first, second = _shared(gold_key[1], pred_key[1]), _shared(gold_key[2], pred_key[2])
                if first and second:
                    pairs.append((-(first + second), g, p))
        used_gold: set[int] = set()
        used_pred: set[int] = set()
        for _, g, p in sorted(pairs):
            if g not in used_gold and p not in used_pred:
                used_gold.add(g)
                used_pred.add(p)
        matched = len(used_gold)
        counts[name] = Counts(tp=matched, fp=len(preds) - matched, fn=len(golds) - matched)
    return counts


def score_relations(pairs: Iterable[tuple[Document, Document | None]]) -> dict[str, Any]:
    """`{"strict": view, "lenient": view, "unresolved": {"gold": n, "pred": n}}`; each view holds
    `micro`, `macro` and `per_type` (P/R/F1 and TP/FP/FN, as `finetune.scoring.metrics.Counts`)."""
    per_type: dict[str, dict[str, Counts]] = {view: defaultdict(Counts) for view in VIEWS}
    unresolved = {"gold": 0, "pred": 0}
    for gold_document, pred_document in pairs:
        gold, missing_gold = relation_keys(gold_document)
        pred, missing_pred = relation_keys(pred_document) if pred_document is not None else ([], 0)
        unresolved["gold"] += missing_gold
        unresolved["pred"] += missing_pred
        for view, count in (("strict", strict_counts), ("lenient", lenient_counts)):
            for name, counts in count(gold, pred).items():
                per_type[view][name].add(counts)
    result: dict[str, Any] = {"unresolved": unresolved}
    for view in VIEWS:
        types = per_type[view]
        precision = sum(c.precision for c in types.values()) / len(types) if types else 0.0
        recall = sum(c.recall for c in types.values()) / len(types) if types else 0.0
        result[view] = {"micro": total(types.values()).as_dict(),
                        "macro": {"precision": precision, "recall": recall, "f1": f1(precision, recall),
                                  "types": len(types)},
                        "per_type": {name: types[name].as_dict() for name in sorted(types)}}
    return result
