"""Train a sentence-pair model (clinical STS or MedNLI) with the HF Trainer and score it on the test split.

    python -m finetune.pairs task=sts model=hf/gatortron-base data_dir=/data/sts output_dir=runs/sts
    python -m finetune.pairs task=mednli model=hf/gatortron-base data_dir=/data/mednli output_dir=runs/nli

`train_pairs` (what the command runs; settings: configs/finetune/pairs.yaml, the recipes
configs/finetune/task/sts.yaml and mednli.yaml) reads the release's
train and test files (`finetune.pairs.readers`; a dev file, when the release has one, is scored
too), fine-tunes `AutoModelForSequenceClassification` (sts: regression of the 0-5 score; mednli:
three classes), saves it self-describing, predicts the test split and scores it
(`finetune.pairs.scoring`: Pearson/Spearman, or accuracy and per-class F1) into `test_scores.json`,
with the predictions in the release's form beside it; `summary.json` ends the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from finetune.pairs.model import build_pair_model, encode_pairs, predict_pairs, save_pair_model
from finetune.pairs.readers import TASKS, SentencePair, find_split, read_pairs, write_predictions
from finetune.pairs.scoring import headline, score_pairs
from finetune.training.task_runs import (
    TaskRecipe,
    TaskRunConfig,
    check_task_run,
    fit,
    other_rank_summary,
    start_output,
)
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.settings import register_schema

logger = get_logger("finetune.pairs")
RUN_MARKER = "pairs_run.json"  # marks an output_dir as this command's own
PREDICTION_FILES = {"sts": "test_predictions.gs.sim.txt", "mednli": "test_predictions.jsonl"}


@dataclass
class PairRecipe(TaskRecipe):
    """A sentence-pair recipe (configs/finetune/task/sts.yaml, mednli.yaml): `TaskRecipe`'s keys, and
    the corpus.

    Attributes:
        corpus: `sts` (2019 n2c2/OHNLP clinical STS, regression) or `mednli` (inference, 3 classes).
    """

    corpus: str = MISSING
    max_seq_length: int = 128  # a pair of clinical sentences fits in 128 subwords


@dataclass
class PairTrainConfig(TaskRunConfig):
    """Settings of one sentence-pair run: `TaskRunConfig`'s, with a `PairRecipe`.

    Attributes:
        task: the recipe (`task=sts|mednli`), any key overridable.
    """

    task: PairRecipe = field(default_factory=PairRecipe)


register_schema("finetune_pairs_schema", PairTrainConfig)


def validate(settings: PairTrainConfig) -> dict[str, Path]:
    """Every setting checked before any work; returns the split files found."""
    if settings.task.corpus not in TASKS:
        raise InputError(f"task.corpus={settings.task.corpus!r}: expected one of {', '.join(TASKS)}")
    if not Path(settings.data_dir).is_dir():
        raise InputError(f"data_dir={settings.data_dir}: not a folder")
    splits = {split: find_split(settings.data_dir, settings.task.corpus, split)
              for split in ("train", "dev", "test")}
    for split in ("train", "test"):
        if splits[split] is None:
            raise InputError(f"data_dir={settings.data_dir}: no {split} file of the {settings.task.corpus} "
                             "release (see finetune/pairs/readers.py)")
    check_task_run(settings, RUN_MARKER, "sentence-pair output")
    return {split: path for split, path in splits.items() if path is not None}


def _labelled(pairs: list[SentencePair], path: Path) -> list[SentencePair]:
    if not pairs:
        raise InputError(f"{path}: no readable pairs")
    if any(pair.label is None for pair in pairs):
        raise InputError(f"{path}: pairs without gold labels (an STS test file needs its .gs.sim.txt)")
    return pairs


def train_pairs(settings: PairTrainConfig) -> dict[str, Any]:
    """Train, save and score (see the module docstring); returns the summary."""
    started = time.perf_counter()
    files = validate(settings)
    output = start_output(settings, RUN_MARKER)
    report = SkipReport()
    data = {split: _labelled(read_pairs(path, settings.task.corpus, report), path)
            for split, path in files.items()}
    report.log_summary(logger)
    pair = build_pair_model(settings.model, settings.task.corpus, settings.task.max_seq_length)
    encoded = {split: encode_pairs(pair, pairs) for split, pairs in data.items()}
    steps = fit(pair.model, pair.tokenizer, encoded["train"].features, settings, output)
    if (done := other_rank_summary(steps)) is not None:
        return done
    save_pair_model(pair, output / "model")
    scores: dict[str, Any] = {}
    for split in ("dev", "test"):
        if split in data:
            predicted = predict_pairs(pair, encoded[split], settings.task.batch_size)
            scores[split] = score_pairs(settings.task.corpus, [p.label for p in data[split]], predicted)
            if split == "test":
                write_predictions(output / PREDICTION_FILES[settings.task.corpus], settings.task.corpus,
                                  data[split], predicted)
    atomic_write_text(output / "test_scores.json", json.dumps(scores["test"], indent=2) + "\n")
    summary = {"corpus": settings.task.corpus, "steps": steps,
               "pairs": {split: len(pairs) for split, pairs in data.items()},
               "skipped": report.as_dict(), "cut_to_max_seq_length": sum(e.cut for e in encoded.values()),
               "test": scores["test"], "dev": scores.get("dev"),
               "seconds": round(time.perf_counter() - started, 1), "model": str(output / "model")}
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=2) + "\n")
    measure = "Pearson r" if settings.task.corpus == "sts" else "accuracy"
    logger.info("%s: %d training pairs, test %s %.4f; model in %s", settings.task.corpus, len(data["train"]),
                measure, headline(settings.task.corpus, scores["test"]), summary["model"])
    return summary
