"""`python -m finetune.pairs`: train a sentence-pair model (see `finetune.pairs.train`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from finetune.pairs.train import PairTrainConfig, train_pairs
from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir


@hydra.main(config_path=config_dir("finetune"), config_name="pairs", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, train_pairs, "finetune.pairs")


if __name__ == "__main__":
    run_command(main, PairTrainConfig)
