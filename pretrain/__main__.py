"""BERT pretraining on megatron-core (stage 3 of the chain).

Data: indexed datasets from `python -m data_prep` (a blend from `python -m data_prep.blend`) and the
tokenizer directory they were made with. The model is megatron-core's BertModel (pre-LayerNorm,
learned positions, tied LM head, optional sentence-order head), with the Transformer Engine layer
spec when TE is installed and the local spec otherwise. On a machine without CUDA the same code
runs on gloo through pretrain.cpu_backend.

Settings: configs/pretrain/default.yaml and configs/pretrain/model/*.yaml (pretrain/config.py
documents every key). Examples::

    python -m pretrain data.blend=demo_out/data/blend.json data.vocab=demo_out/vocab \
        checkpoint.dir=demo_out/pretrain train.train_iters=50
    torchrun --nproc-per-node 8 -m pretrain model=gatortron_base parallel.tensor=2 \
        data.blend=/data/blend.json data.vocab=/data/vocab checkpoint.dir=/runs/base train.precision=bf16
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  before torch and megatron-core are imported

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import get_logger
from gatortron_common.settings import HYDRA_VERSION, config_dir
from pretrain.config import PretrainConfig
from pretrain.data import LoaderWorkerDied
from pretrain.train import pretrain

# slurm/pretrain.sbatch requeues its job when a run ends early but can go on from its last checkpoint:
# after a stop signal (saved, not finished) or a failure a rerun gets past (EX_TEMPFAIL). torchrun
# reports any failed worker as its own status 1, so the file this variable names (if set) carries the
# reason, "stopped" or "failed", to the script.
EXIT_RESUMABLE = 75
REQUEUE_FILE = "GATORTRON_REQUEUE_FILE"


def _ask_for_requeue(reason: str) -> None:
    if os.environ.get(REQUEUE_FILE):
        Path(os.environ[REQUEUE_FILE]).write_text(reason + "\n")


def train(cfg: PretrainConfig) -> None:
    try:
        state = pretrain(cfg)
    except LoaderWorkerDied as error:
        get_logger("pretrain").error("%s: the step in progress is lost; the last checkpoint is intact, run "
                                     "again (or requeue) to resume from it (exit %d)", error, EXIT_RESUMABLE)
        _ask_for_requeue("failed")
        sys.exit(EXIT_RESUMABLE)
    if state.iteration < cfg.train.train_iters and cfg.checkpoint.enabled:
        _ask_for_requeue("stopped")  # a stop signal: saved at this step, the rest is still to do


@hydra.main(config_path=config_dir("pretrain"), config_name="default", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, train, "pretrain")


if __name__ == "__main__":
    run_command(main, PretrainConfig)
