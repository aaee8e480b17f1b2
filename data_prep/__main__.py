"""Turn notes, PubMed or Wikipedia into a Megatron indexed dataset (stage 2 of the chain).

Each document (a note, an article) is cleaned (the vocabulary's Unicode normalization, regular
whitespace), split into sentences with clinical rules, tokenized with the vocabulary from
`python -m tokenizer` (ids identical to HF `BertTokenizer(vocab=...)`), and written as one
document of sentence sequences to <output_prefix>.bin/.idx, with <output_prefix>.stats.json.
Exact duplicate documents are skipped.

Settings: configs/data_prep/default.yaml (see data_prep/config.py). Examples::

    python -m data_prep source=notes input=notes.tsv vocab=vocab/ output_prefix=data/notes
    python -m data_prep source=pubmed 'input=pubmed/*.xml.gz' vocab=vocab/ output_prefix=data/pubmed
    python -m data_prep source=wikipedia 'input=wiki/*pages-articles*.bz2' vocab=vocab/ \
        output_prefix=data/wiki
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  before megatron-core is imported

import hydra
from omegaconf import DictConfig

from data_prep.build import build_dataset
from data_prep.config import DataPrepConfig
from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir


@hydra.main(config_path=config_dir("data_prep"), config_name="default", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, build_dataset, "data_prep")


if __name__ == "__main__":
    run_command(main, DataPrepConfig)
