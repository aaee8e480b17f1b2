"""Command line: write the synthetic annotated benchmark corpora.

    python -m finetune.synthetic output_dir=DIR seed=0 documents=20
    python -m finetune.synthetic output_dir=DIR 'corpora=[i2b2_2014]' documents=200 overwrite=true

Prints the summary (documents, entities per type, relations; counts only) as JSON.
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from finetune.synthetic.config import CONFIG_DIR, register_configs
from finetune.synthetic.corpus import write_annotated_corpora
from gatortron_common.cli import run_stage

register_configs()


@hydra.main(config_path=str(CONFIG_DIR), config_name="synthetic", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_stage(cfg, lambda settings: print(json.dumps(write_annotated_corpora(settings), indent=2)),
              "finetune.synthetic")


if __name__ == "__main__":
    main()
