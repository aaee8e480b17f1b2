"""Score predictions against gold annotations, the way the challenges score them.

    python -m finetune.evaluate gold=GOLD pred=PRED format=FORMAT [output_json=scores.json]

Both sides are read with `finetune.corpora.formats.read_corpus(path, format)` (a directory for
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig

from finetune.corpora.formats import FORMATS, read_corpus
from finetune.scoring.documents import SENTENCE_FORMATS, conlleval_files, evaluate_documents
from finetune.scoring.report import format_tables
from gatortron_common.atomic import atomic_write_text
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import check_output_path
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema

logger = get_logger("finetune.evaluate")


@dataclass
class EvaluateConfig:
    """Settings of `python -m finetune.evaluate`.

    Attributes:
        gold: the reference annotations (directory or file, as the format wants).
        pred: the predictions, in the same format and layout.
        format: one of `finetune.corpora.formats.FORMATS`.
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


def is_scores_file(path: Path) -> bool:
    """Whether `path` holds results this stage wrote (so re-running may replace them)."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(results, dict) and {"format", "documents", "strict", "relaxed"} <= results.keys()


def validate(settings: EvaluateConfig) -> None:
    """Check every setting before reading anything (one `InputError` naming the first bad one)."""

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
    run_command(main, EvaluateConfig)
