"""De-identify notes: a fine-tuned de-id model plus the rule layer, PHI replaced by tags.

    python -m finetune.deid model=runs/deid/model input=notes.tsv output=notes_deid.tsv
    python -m finetune.deid model=runs/deid/model input=notes/ output=notes_deid/ 'template=[**{subtype}**]'
    python -m finetune.deid model=runs/deid/model input=notes.jsonl text_key=note mode=spans output=spans.jl
    python -m finetune.deid model=null input=notes.csv output=out.csv      # rules only

Inputs: a folder of .txt notes (or one file), notes CSV/TSV (`text_column`, default NOTE_TEXT), JSONL
(`text_key`). The output keeps the input's layout: same files, same rows in the same order, every
other column or key untouched. A span file (`<output>.spans.jsonl`) lists each PHI span: document,
offsets in the input text, category, subtype, score and sources (`model`, `rule:<name>`), never
the text unless include_text=true. Settings: configs/finetune/deid.yaml (finetune/deid/tool.py).
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  before torch and transformers are imported

import json

import hydra
from omegaconf import DictConfig

from finetune.deid.tool import DeidConfig, deidentify
from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir


@hydra.main(config_path=config_dir("finetune"), config_name="deid", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, lambda settings: print(json.dumps(deidentify(settings), indent=2)), "finetune.deid")


if __name__ == "__main__":
    run_command(main, DeidConfig)
