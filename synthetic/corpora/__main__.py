"""Command line: write the synthetic corpora.

    python -m synthetic.corpora output_dir=DIR seed=0 notes_mb=1.0 pubmed_articles=200 wiki_pages=100
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir
from synthetic.corpora.config import SyntheticCorporaConfig
from synthetic.corpora.write import write_synthetic_corpora


@hydra.main(config_path=config_dir("synthetic"), config_name="corpora", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, lambda settings: print(json.dumps(write_synthetic_corpora(settings), indent=2)),
              "synthetic.corpora")


if __name__ == "__main__":
    run_command(main, SyntheticCorporaConfig)
