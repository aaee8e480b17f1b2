"""Predict sentence-pair scores (sts) or classes (mednli) for a release file.

    python -m finetune.pairs.predict model=runs/sts/model input=/data/sts/clinicalSTS2019.test.txt \
        output=sts_test.gs.sim.txt
    python -m finetune.pairs.predict model=runs/mednli/model input=/data/mednli/mli_test_v1.jsonl \
        output=mednli_test.jsonl

The task comes from the model (`gatortron_pairs` in its config.json). `input` is a file in the
release's form (`finetune.pairs.readers`; gold labels optional); `output` gets the predictions in the
same form: one score per line for sts (the challenge's `.gs.sim.txt`), the pairs' JSONL with the
predicted `gold_label` for mednli. When every input pair has a gold label the summary holds the
scores too. Settings: configs/finetune/pairs_predict.yaml.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from finetune.pairs.model import encode_pairs, load_pair_model, predict_pairs
from finetune.pairs.readers import read_pairs, write_predictions
from finetune.pairs.scoring import score_pairs
from finetune.training.task_runs import TaskPredictConfig, check_file_prediction
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema

logger = get_logger("finetune.pairs.predict")


@dataclass
class PairPredictConfig(TaskPredictConfig):
    """Settings of `python -m finetune.pairs.predict`: `TaskPredictConfig`'s."""


register_schema("finetune_pairs_predict_schema", PairPredictConfig)


def predict_pair_file(settings: PairPredictConfig) -> dict[str, Any]:
    """Read, predict, write; returns the summary (with the scores when the input is labelled)."""
    started = time.perf_counter()
    device = check_file_prediction(settings, "prediction file")
    source, target = Path(settings.input), Path(settings.output)
    pair = load_pair_model(settings.model)
    pair.model.to(device)
    restrict_outputs_to([source])
    report = SkipReport()
    pairs = read_pairs(source, pair.task, report)
    report.log_summary(logger)
    if not pairs:
        raise InputError(f"input={source}: no readable {pair.task} pairs")
    encoded = encode_pairs(pair, pairs)
    predicted = predict_pairs(pair, encoded, settings.batch_size, device, progress=True)
    write_predictions(target, pair.task, pairs, predicted)
    summary: dict[str, Any] = {"task": pair.task, "pairs": len(pairs), "skipped": report.total,
                               "cut_to_max_seq_length": encoded.cut,
                               "seconds": round(time.perf_counter() - started, 2), "output": str(target)}
    if all(p.label is not None for p in pairs):
        summary["scores"] = score_pairs(pair.task, [p.label for p in pairs], predicted)  # type: ignore[misc]
    logger.info("%s: predicted %d pairs (%d skipped) in %.1f s; wrote %s", pair.task, len(pairs),
                report.total, summary["seconds"], target)
    return summary


@hydra.main(config_path=config_dir("finetune"), config_name="pairs_predict", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, predict_pair_file, "finetune.pairs.predict")


if __name__ == "__main__":
    run_command(main, PairPredictConfig)
