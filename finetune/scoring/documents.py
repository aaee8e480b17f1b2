"""Scoring paired corpora: every entity view of gold and predicted documents, and conlleval on label
files. The library behind `python -m finetune.evaluate`, training's dev and test scores and the
de-identification audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from finetune.corpora.document import Document
from finetune.scoring.bio_files import read_conll_pairs, read_nemo_pairs
from finetune.scoring.conlleval import ConllevalResult, conlleval
from finetune.scoring.entities import score_entities
from finetune.scoring.i2b2_2014 import score_i2b2_2014
from finetune.scoring.pairing import document_key, line_key, pair_documents
from gatortron_common.logging import InputError, SkipReport, get_logger

SENTENCE_FORMATS = ("nemo", "conll")  # one document per sentence, ids `<file stem>:<line>`
logger = get_logger("finetune.scoring")


def evaluate_documents(gold: Sequence[Document], pred: Sequence[Document], fmt: str, *,
                       gold_name: str = "gold", pred_name: str = "pred",
                       allow_extra_pred: bool = False) -> dict[str, Any]:
    """All entity-level views of paired documents (no conlleval: that needs the label files).

    Args:
        gold: reference documents.
        pred: predicted documents.
        fmt: the format they were read from; i2b2_2014 adds the official views, nemo / conll
            pair documents by line.
        gold_name: how messages name the gold corpus.
        pred_name: how messages name the predicted corpus.
        allow_extra_pred: list predictions without gold instead of raising `InputError`.

    Returns:
        The JSON-shaped results: `format`, `documents`, `strict`, `relaxed` and, for i2b2_2014,
        `i2b2_2014`.
    """
    key = line_key if fmt in SENTENCE_FORMATS else document_key
    pairs = pair_documents(gold, pred, gold_name=gold_name, pred_name=pred_name, key=key,
                           allow_extra=allow_extra_pred)
    if pairs.missing:
        logger.warning("%d gold document(s) have no prediction (scored as empty predictions in "
                       "strict/relaxed; the official i2b2 2014 views leave them out, as its script does): %s",
                       len(pairs.missing), ", ".join(pairs.missing[:5]))
    if pairs.extra:
        logger.warning("%d predicted document(s) have no gold and are not scored: %s", len(pairs.extra),
                       ", ".join(pairs.extra[:5]))
    results: dict[str, Any] = {
        "format": fmt,
        "documents": {"gold": len(pairs.pairs), "pred": len(pairs.both) + len(pairs.extra),
                      "scored": len(pairs.pairs), "missing_in_pred": pairs.missing,
                      "extra_in_pred": pairs.extra},
    }
    results.update(score_entities(pairs.pairs))
    if fmt == "i2b2_2014":
        skips = SkipReport()
        results["i2b2_2014"] = score_i2b2_2014(pairs.both, skips)
        skips.log_summary(logger)
    return results


def conlleval_files(gold: str | Path, pred: str | Path, fmt: str, split: str = "test") -> ConllevalResult:
    """conlleval.pl's counts for NeMo or CoNLL label files.

    Args:
        gold: gold NeMo directory / labels file, or CoNLL file.
        pred: predicted NeMo directory / labels file, or CoNLL file.
        fmt: "nemo" or "conll".
        split: NeMo split.
    """
    if fmt == "nemo":
        return conlleval(read_nemo_pairs(gold, pred, split))
    if fmt == "conll":
        return conlleval(read_conll_pairs(gold, pred))
    raise InputError(f"format={fmt}: conlleval needs BIO label files (nemo or conll)")
