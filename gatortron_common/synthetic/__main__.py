"""Command line: write the synthetic corpora.

    python -m gatortron_common.synthetic output_dir=DIR seed=0 notes_mb=1.0 pubmed_articles=200 wiki_pages=100
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_stage
from gatortron_common.synthetic.config import CONFIG_DIR, register_configs
from gatortron_common.synthetic.corpora import write_synthetic_corpora

register_configs()


@hydra.main(config_path=str(CONFIG_DIR), config_name="default", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_stage(cfg, lambda settings: print(json.dumps(write_synthetic_corpora(settings), indent=2)),
              "synthetic")


if __name__ == "__main__":
    main()
