"""Train an extractive question-answering model (emrQA in SQuAD form) and score it on the test split.

    python -m finetune.qa model=hf/gatortron-base data_dir=/data/emrqa/medication output_dir=runs/qa

`train_qa` (what the command runs; settings: configs/finetune/qa.yaml, the recipe
configs/finetune/task/emrqa.yaml) reads the SQuAD-style train
and test files of `data_dir` (the `.json` files whose names hold `train` and `test`; a `dev` one is
scored too), cuts every note into overlapping windows (`finetune.qa.windows`), fine-tunes
`AutoModelForQuestionAnswering` (cross-entropy over the answer's first and last subwords), saves the
model self-describing, answers the test questions choosing each answer across its windows, and
scores them as SQuAD's script does (`finetune.qa.scoring`: exact match and token F1, in percent) into
`test_scores.json`, with the answers in `test_predictions.json`; `summary.json` ends the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import set_seed

from finetune.corpora.release_files import find_split_file
from finetune.qa.model import QaInfo, build_qa_model, predict_answers, save_qa_model
from finetune.qa.scoring import score_answers
from finetune.qa.squad import read_squad, write_predictions
from finetune.training.task_runs import (
    TaskRecipe,
    TaskRunConfig,
    check_at_least,
    check_task_run,
    fit,
    other_rank_summary,
    start_output,
)
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.settings import register_schema

logger = get_logger("finetune.qa")
RUN_MARKER = "qa_run.json"  # marks an output_dir as this command's own


@dataclass
class QaRecipe(TaskRecipe):
    """A question-answering recipe (configs/finetune/task/emrqa.yaml): `TaskRecipe`'s keys, and the
    windows and answers.

    Attributes:
        doc_stride: subwords shared by consecutive windows of one note.
        max_query_length: a question is cut to this many subwords.
        max_answer_length: the longest answer predicted, in subwords.
        n_best: starts and ends tried per window when choosing an answer.
    """

    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    n_best: int = 20


@dataclass
class QaTrainConfig(TaskRunConfig):
    """Settings of one question-answering run: `TaskRunConfig`'s, with a `QaRecipe`.

    Attributes:
        task: the recipe (`task=emrqa`, the default), any key overridable.
    """

    task: QaRecipe = field(default_factory=QaRecipe)


register_schema("finetune_qa_schema", QaTrainConfig)


def validate(settings: QaTrainConfig) -> dict[str, Path]:
    """Every setting checked before any work; returns the split files found."""
    recipe = settings.task
    check_at_least((("task.doc_stride", recipe.doc_stride, 1),
                    ("task.max_query_length", recipe.max_query_length, 1),
                    ("task.max_answer_length", recipe.max_answer_length, 1),
                    ("task.n_best", recipe.n_best, 1)))
    if recipe.max_query_length + recipe.doc_stride + 3 >= recipe.max_seq_length:
        raise InputError(f"task.max_seq_length={recipe.max_seq_length}: leaves no room for the note beside "
                         f"task.max_query_length={recipe.max_query_length} and "
                         f"task.doc_stride={recipe.doc_stride}")
    if not Path(settings.data_dir).is_dir():
        raise InputError(f"data_dir={settings.data_dir}: not a folder")
    splits = {split: find_split_file(settings.data_dir, split, ".json") for split in ("train", "dev", "test")}
    for split in ("train", "test"):
        if splits[split] is None:
            raise InputError(f"data_dir={settings.data_dir}: no SQuAD-style .json file named for {split}")
    check_task_run(settings, RUN_MARKER, "question-answering output")
    return {split: path for split, path in splits.items() if path is not None}


def train_qa(settings: QaTrainConfig) -> dict[str, Any]:
    """Train, save and score (see the module docstring); returns the summary."""
    started = time.perf_counter()
    files = validate(settings)
    output = start_output(settings, RUN_MARKER)
    report = SkipReport()
    data = {split: read_squad(path, report) for split, path in files.items()}
    report.log_summary(logger)
    trainable = [question for question in data["train"] if question.answers]
    if not trainable:
        raise InputError(f"{files['train']}: no question with a usable answer")
    set_seed(settings.seed)  # the new head's initialisation
    recipe = settings.task
    info = QaInfo(recipe.max_seq_length, recipe.doc_stride, recipe.max_query_length, recipe.max_answer_length,
                  recipe.n_best)
    qa = build_qa_model(settings.model, info)
    windows = qa.windows(trainable, labelled=True)
    steps = fit(qa.model, qa.tokenizer, windows.features, settings, output)
    if (done := other_rank_summary(steps)) is not None:
        return done
    save_qa_model(qa, output / "model")
    scores: dict[str, Any] = {}
    for split in ("dev", "test"):
        if split in data:
            answers, read = predict_answers(qa, data[split], recipe.batch_size)
            scores[split] = {**score_answers(data[split], answers), "windows": len(read.features)}
            if split == "test":
                write_predictions(output / "test_predictions.json", answers)
    atomic_write_text(output / "test_scores.json", json.dumps(scores["test"], indent=2) + "\n")
    summary = {"steps": steps, "questions": {split: len(questions) for split, questions in data.items()},
               "train_questions_with_an_answer": len(trainable), "train_windows": len(windows.features),
               "train_answers_in_a_window": [windows.answers_in_a_window, windows.answers_total],
               "questions_cut": windows.questions_cut, "skipped": report.as_dict(), "test": scores["test"],
               "dev": scores.get("dev"), "seconds": round(time.perf_counter() - started, 1),
               "model": str(output / "model")}
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=2) + "\n")
    logger.info("qa: %d training questions in %d windows, test exact match %.2f, F1 %.2f; model in %s",
                len(trainable), len(windows.features), scores["test"]["exact_match"], scores["test"]["f1"],
                summary["model"])
    return summary
