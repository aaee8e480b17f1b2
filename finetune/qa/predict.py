"""Answer the questions of a SQuAD-style file (emrQA in SQuAD form) with a trained QA model.

    python -m finetune.qa.predict model=runs/qa/model input=/data/emrqa/medication/test.json \
        output=answers.json

`output` is `{question id: answer text}`, the predictions file SQuAD's evaluation script reads.
When the input holds gold answers the summary holds exact match and token F1 too
(`finetune.qa.scoring`). Settings: configs/finetune/qa_predict.yaml.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from finetune.qa.model import load_qa_model, predict_answers
from finetune.qa.scoring import score_answers
from finetune.qa.squad import read_squad, write_predictions
from finetune.training.task_runs import TaskPredictConfig, check_file_prediction
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema

logger = get_logger("finetune.qa.predict")


@dataclass
class QaPredictConfig(TaskPredictConfig):
    """Settings of `python -m finetune.qa.predict`: `TaskPredictConfig`'s."""


register_schema("finetune_qa_predict_schema", QaPredictConfig)


def predict_qa_file(settings: QaPredictConfig) -> dict[str, Any]:
    """Read, answer, write; returns the summary (with the scores when the input has gold answers)."""
    started = time.perf_counter()
    device = check_file_prediction(settings, "predictions file")
    source, target = Path(settings.input), Path(settings.output)
    qa = load_qa_model(settings.model)
    qa.model.to(device)
    restrict_outputs_to([source])
    report = SkipReport()
    questions = read_squad(source, report)
    report.log_summary(logger)
    if not questions:
        raise InputError(f"input={source}: no readable questions")
    answers, windows = predict_answers(qa, questions, settings.batch_size, device, progress=True)
    write_predictions(target, answers)
    summary: dict[str, Any] = {"questions": len(questions), "windows": len(windows.features),
                               "skipped": report.total, "seconds": round(time.perf_counter() - started, 2),
                               "output": str(target)}
    if any(question.answers for question in questions):
        summary["scores"] = score_answers(questions, answers)
    logger.info("answered %d questions (%d windows) in %.1f s; wrote %s", len(questions),
                len(windows.features), summary["seconds"], target)
    return summary


@hydra.main(config_path=config_dir("finetune"), config_name="qa_predict", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, predict_qa_file, "finetune.qa.predict")


if __name__ == "__main__":
    run_command(main, QaPredictConfig)
