"""Counts, P/R/F1 and the two averages every view reports.

- micro: P/R/F1 of the TP/FP/FN summed over all documents (the challenges' primary number).
- macro: the i2b2 2014 evaluator's definition: precision and recall are computed per document
  (0.0 where the denominator is 0, so a document with neither gold nor predicted entities
  counts as P = R = 0), averaged over documents (population SD reported too), and F1 is the
  harmonic mean of the two averages, not the mean of per-document F1s.

Micro F1 is 0.0 where P + R = 0 (the script's rule). Macro F1 is undefined there: the script
computes it on numpy floats and prints `nan`; we give None (JSON null). With no documents at
all every macro value is None.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def ratio(numerator: int, denominator: int) -> float:
    """`numerator / denominator`, 0.0 when the denominator is 0 (the official scripts' rule)."""
    return numerator / denominator if denominator else 0.0


def f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall, 0.0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass
class Counts:
    """True positives, false positives and false negatives of one document or one type."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)

    def as_dict(self) -> dict[str, Any]:
        """`precision`, `recall`, `f1`, `tp`, `fp`, `fn` (the JSON shape of every score)."""
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


def total(counts: Iterable[Counts]) -> Counts:
    """The sum of several counts."""
    summed = Counts()
    for item in counts:
        summed.add(item)
    return summed


def exact_match_counts(gold: Iterable[tuple], pred: Iterable[tuple]) -> dict[str, Counts]:
    """Per-type counts of one-to-one exact matches between hashable keys whose first item is the
    type: two identical predictions of one gold key are one TP and one FP."""
    gold_keys, pred_keys = Counter(gold), Counter(pred)
    counts: dict[str, Counts] = defaultdict(Counts)
    for key in gold_keys.keys() | pred_keys.keys():
        matched = min(gold_keys[key], pred_keys[key])
        item = counts[key[0]]
        item.tp += matched
        item.fn += gold_keys[key] - matched
        item.fp += pred_keys[key] - matched
    return dict(counts)


def micro(per_document: Iterable[Counts]) -> dict[str, Any]:
    """Micro average: P/R/F1 of the summed counts."""
    return total(per_document).as_dict()


def macro(per_document: list[Counts]) -> dict[str, Any]:
    """Macro average as the official i2b2 2014 script computes it (see the module docstring).

    Args:
        per_document: one `Counts` per scored document; every document counts, empty ones too.

    Returns:
        `precision`, `recall`, `f1` (None where undefined), the summed `tp`/`fp`/`fn`,
        `precision_sd`, `recall_sd` (population standard deviations, numpy's default) and
        `documents`.
    """
    summed = total(per_document)
    result: dict[str, Any] = {"precision": None, "recall": None, "f1": None,
                              "tp": summed.tp, "fp": summed.fp, "fn": summed.fn,
                              "precision_sd": None, "recall_sd": None, "documents": len(per_document)}
    if per_document:
        precisions = np.array([c.precision for c in per_document], dtype=float)
        recalls = np.array([c.recall for c in per_document], dtype=float)
        mean_p, mean_r = float(precisions.mean()), float(recalls.mean())
        result.update(precision=mean_p, recall=mean_r, f1=f1(mean_p, mean_r) if mean_p + mean_r else None,
                      precision_sd=float(precisions.std()), recall_sd=float(recalls.std()))
    return result


def summarize(per_document: list[Counts], per_type: Mapping[str, Counts] | None = None) -> dict[str, Any]:
    """`{"micro": ..., "macro": ..., "per_type": {type: ...}}` for one view.

    Args:
        per_document: counts of every scored document, in any order.
        per_type: summed counts per entity type (micro P/R/F1 per type); omitted when None.
    """
    summary: dict[str, Any] = {"micro": micro(per_document), "macro": macro(per_document)}
    if per_type is not None:
        summary["per_type"] = {name: per_type[name].as_dict() for name in sorted(per_type)}
    return summary
