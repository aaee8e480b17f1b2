"""Scores of sentence-pair predictions, as the tasks report them.

- sts: Pearson's r between gold and predicted scores (the 2019 n2c2/OHNLP challenge's measure),
  with Spearman's rho and the mean squared error beside it. Both correlations come from
  `scipy.stats`; a constant prediction (or gold) has no correlation: None (JSON null), as scipy's
  `nan` would mean nothing in a table.
- mednli: accuracy (MedNLI's measure) and, per class, precision/recall/F1 and support, with their
  macro average (each the unweighted mean over the three classes, as scikit-learn's `macro`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from finetune.pairs.readers import MEDNLI_LABELS
from finetune.scoring.metrics import Counts


def _correlation(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def score_sts(gold: Sequence[float], predicted: Sequence[float]) -> dict[str, Any]:
    """`{"pearson", "spearman", "mse", "pairs"}` of two equally long score lists."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold scores for {len(predicted)} predictions")
    truth, guess = np.asarray(gold, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    constant = len(truth) < 2 or np.ptp(truth) == 0 or np.ptp(guess) == 0
    return {"pearson": None if constant else _correlation(stats.pearsonr(truth, guess).statistic),
            "spearman": None if constant else _correlation(stats.spearmanr(truth, guess).statistic),
            "mse": float(np.mean((truth - guess) ** 2)) if len(truth) else None, "pairs": len(truth)}


def score_mednli(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """`{"accuracy", "per_class": {label: P/R/F1, support}, "macro": P/R/F1, "pairs"}`."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels for {len(predicted)} predictions")
    per_class: dict[str, dict[str, Any]] = {}
    for label in MEDNLI_LABELS:
        counts = Counts(tp=sum(g == label == p for g, p in zip(gold, predicted, strict=True)),
                        fp=sum(p == label != g for g, p in zip(gold, predicted, strict=True)),
                        fn=sum(g == label != p for g, p in zip(gold, predicted, strict=True)))
        per_class[label] = {**counts.as_dict(), "support": counts.tp + counts.fn}
    precision = sum(c["precision"] for c in per_class.values()) / len(per_class)
    recall = sum(c["recall"] for c in per_class.values()) / len(per_class)
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {"accuracy": correct / len(gold) if gold else 0.0, "per_class": per_class,
            "macro": {"precision": precision, "recall": recall,
                      "f1": sum(c["f1"] for c in per_class.values()) / len(per_class)},
            "pairs": len(gold)}


def score_pairs(task: str, gold: Sequence[float | str], predicted: Sequence[float | str]) -> dict[str, Any]:
    """The task's scores (see the module docstring)."""
    return score_sts(gold, predicted) if task == "sts" else score_mednli(gold, predicted)  # type: ignore[arg-type]


def headline(task: str, scores: dict[str, Any]) -> float:
    """The task's one number: Pearson's r (0 where undefined) for sts, accuracy for mednli."""
    return (scores["pearson"] or 0.0) if task == "sts" else scores["accuracy"]
