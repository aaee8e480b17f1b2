"""Command line: write the synthetic annotated benchmark corpora.

    python -m synthetic.annotated output_dir=DIR seed=0 documents=20
    python -m synthetic.annotated output_dir=DIR 'corpora=[i2b2_2014]' documents=200 overwrite=true

Prints the summary (documents, entities per type, relations; counts only) as JSON.
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir
from synthetic.annotated.config import AnnotatedCorporaConfig
from synthetic.annotated.corpus import write_annotated_corpora


@hydra.main(config_path=config_dir("synthetic"), config_name="annotated", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, lambda settings: print(json.dumps(write_annotated_corpora(settings), indent=2)),
              "synthetic.annotated")


if __name__ == "__main__":
    run_command(main, AnnotatedCorporaConfig)
