"""`python -m finetune.qa`: train an extractive question-answering model (see `finetune.qa.train`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from finetune.qa.train import QaTrainConfig, train_qa
from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir


@hydra.main(config_path=config_dir("finetune"), config_name="qa", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, train_qa, "finetune.qa")


if __name__ == "__main__":
    run_command(main, QaTrainConfig)
