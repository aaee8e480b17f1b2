"""Score predictions against gold annotations, the way the challenges score them.

    python -m finetune.evaluate gold=GOLD pred=PRED format=FORMAT [output_json=scores.json]

Both sides are read with `finetune.formats.read_corpus(path, format)` (a directory for
file-per-document formats, a file for jsonl / conll, a NeMo directory for nemo) and paired by
document id (see `finetune.scoring.pairing`: a missing prediction scores as empty and is
reported; an extra one is an error unless allow_extra_pred=true; texts must be identical).

Views (definitions in the module docstrings of `finetune.scoring`):

- every format: `strict` (exact spans + type) and `relaxed` (overlap + type, one-to-one), each
  with `micro`, `macro` (the i2b2 2014 script's macro) and `per_type`, as P/R/F1 and TP/FP/FN;
- i2b2_2014: also `i2b2_2014`, the official evaluator's Token / Strict / Relaxed / HIPAA / Binary
  views, per category (NAME) and per subtype (PATIENT), numbers equal to kotfic's `evaluate.py phi`
  on the documents present on both sides;
- nemo / conll: also `conlleval`, chunk scores exactly as conlleval.pl computes them from the
  label files, and its report.

The tables go to stdout; `output_json` gets the same results as JSON (written atomically).
Settings: configs/finetune/evaluate.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig

from finetune.document import Document
from finetune.scoring.bio_files import read_conll_pairs, read_nemo_pairs
from finetune.scoring.conlleval import ConllevalResult, conlleval
from finetune.scoring.entities import score_entities
from finetune.scoring.i2b2_2014 import score_i2b2_2014
from finetune.scoring.pairing import document_key, line_key, pair_documents
from finetune.scoring.report import format_tables
from gatortron_common.atomic import atomic_write_text
from gatortron_common.cli import run_stage
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.outputs import check_output_path
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema

SENTENCE_FORMATS = ("nemo", "conll")  # one document per sentence, ids `<file stem>:<line>`
logger = get_logger("finetune.evaluate")


@dataclass
class EvaluateConfig:
    """Settings of `python -m finetune.evaluate`.

    Attributes:
        gold: the reference annotations (directory or file, as the format wants).
        pred: the predictions, in the same format and layout.
        format: one of `finetune.formats.FORMATS`.
        output_json: where to write the results as JSON; None prints the tables only.
        split: NeMo split (`labels_{split}.txt`); used for format=nemo only.
        strict: the readers raise on questionable input instead of counting it.
        allow_extra_pred: predicted documents without gold are listed and ignored instead of
            being an error.
        read_options: further reader options for both sides, e.g. `+read_options.allow_unknown=true`
            (i2b2_2014: accept tag names / TYPEs outside the guidelines, such as a generic PHI tag).
        overwrite: replace an existing `output_json` that is not a scores file of this stage (a gold or
            predicted file never is, with or without overwrite).
        log_level: logging level.
    """

    gold: str = MISSING
    pred: str = MISSING
    format: str = MISSING
    output_json: str | None = None
    split: str = "test"
    strict: bool = False
    allow_extra_pred: bool = False
    read_options: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("finetune_evaluate_schema", EvaluateConfig)


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


def is_scores_file(path: Path) -> bool:
    """Whether `path` holds results this stage wrote (so re-running may replace them)."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(results, dict) and {"format", "documents", "strict", "relaxed"} <= results.keys()


def validate(settings: EvaluateConfig) -> None:
    """Check every setting before reading anything (one `InputError` naming the first bad one)."""
    from finetune.formats import FORMATS

    if settings.format not in FORMATS:
        raise InputError(f"format={settings.format}: unknown; choose one of {', '.join(FORMATS)}")
    for name, path in (("gold", settings.gold), ("pred", settings.pred)):
        if not Path(path).exists():
            raise InputError(f"{name}={path}: no such file or directory")
    if settings.output_json:
        check_output_path(settings.output_json, "output_json", settings.overwrite, is_scores_file,
                          inputs=(settings.gold, settings.pred), what="scores file of finetune.evaluate")


def evaluate(settings: EvaluateConfig) -> dict[str, Any]:
    """Read both corpora, score them, print the tables and write `output_json`.

    Args:
        settings: see `EvaluateConfig`.

    Returns:
        The results written to `output_json`.
    """
    from finetune.formats import read_corpus  # the readers are only needed here

    validate(settings)
    options = dict(settings.read_options)
    if settings.format == "nemo":
        options["split"] = settings.split
    gold = read_corpus(settings.gold, settings.format, strict=settings.strict, **options)
    pred = read_corpus(settings.pred, settings.format, strict=settings.strict, **options)
    logger.info("read %d gold and %d predicted documents (%s)", len(gold), len(pred), settings.format)
    results = evaluate_documents(gold, pred, settings.format, gold_name=settings.gold,
                                 pred_name=settings.pred, allow_extra_pred=settings.allow_extra_pred)
    conll = None
    if settings.format in SENTENCE_FORMATS:
        conll = conlleval_files(settings.gold, settings.pred, settings.format, settings.split)
        results["conlleval"] = conll.as_dict()
    results["gold"], results["pred"] = str(settings.gold), str(settings.pred)
    print(format_tables(results, conll), end="", flush=True)
    if settings.output_json:
        atomic_write_text(settings.output_json, json.dumps(results, indent=2) + "\n")
        logger.info("wrote %s", settings.output_json)
    return results


@hydra.main(config_path=config_dir("finetune"), config_name="evaluate", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, evaluate, "finetune.evaluate")


if __name__ == "__main__":
    main()
