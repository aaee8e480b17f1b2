"""Import a Hugging Face MegatronBert model as a pretraining checkpoint (continued pretraining).

    python -m pretrain.import_hf model=hf/gatortron-base output=runs/base-continued parallel.tensor=2

`model` is a HF directory with `model_type: megatron-bert` (MegatronBertForPreTraining,
...ForMaskedLM or a bare MegatronBertModel, as the public GatorTron checkpoints are); heads it lacks
start from megatron-core's initialization and are listed. Post-LayerNorm `bert` models are refused:
their weights would compute something else in megatron-core's pre-LayerNorm BERT. The output holds
a step-0 checkpoint (weights only, loadable at any TP/PP) and `vocab/`, the tokenizer directory to
give the continuing run as data.vocab; the log prints the model.* settings it must use.

Settings: configs/pretrain/hf/import_hf.yaml (documented in pretrain/from_hf.py, ImportConfig).
Conversion runs on the CPU (GPUs are hidden from this process) and holds the model once in memory
plus one layer's source weights.
"""

from __future__ import annotations

import gatortron_common.environment.cpu  # noqa: F401  hides the GPUs before torch is imported

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir
from pretrain.from_hf import ImportConfig, import_hf


@hydra.main(config_path=config_dir("pretrain/hf"), config_name="import_hf", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, import_hf, "pretrain.import_hf")


if __name__ == "__main__":
    run_command(main, ImportConfig)
