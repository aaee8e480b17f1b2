"""`python -m finetune.relations`: train a relation classifier (see `finetune.relations.train`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from finetune.relations.train import RelationTrainConfig, train_relations
from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir


@hydra.main(config_path=config_dir("finetune"), config_name="relations", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, train_relations, "finetune.relations")


if __name__ == "__main__":
    run_command(main, RelationTrainConfig)
