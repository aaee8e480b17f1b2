"""Import a Hugging Face MegatronBert model as a pretraining checkpoint (continued pretraining).

    python -m pretrain.import_hf model=hf/gatortron-base output=runs/base-continued parallel.tensor=2

`model` is a HF directory with `model_type: megatron-bert` (MegatronBertForPreTraining,
...ForMaskedLM or a bare MegatronBertModel, as the public GatorTron checkpoints are); heads it lacks
start from megatron-core's initialization and are listed. Post-LayerNorm `bert` models are refused:
their weights would compute something else in megatron-core's pre-LayerNorm BERT. The output holds
a step-0 checkpoint (weights only, loadable at any TP/PP) and `vocab/`, the tokenizer directory to
give the continuing run as data.vocab; the log prints the model.* settings it must use.

Settings: configs/hf/import_hf.yaml (documented in pretrain/from_hf.py, ImportConfig).
Conversion runs on the CPU (GPUs are hidden from this process) and holds the model once in memory
plus one layer's source weights.
"""

from __future__ import annotations

import os

# Conversion runs on the CPU whatever the node has (set before torch is imported).
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

warnings.filterwarnings("ignore", message=r".*(Apex|Transformer Engine).*not installed")
# Deprecation notices from torch's checkpoint writer and megatron-core's config: not the user's concern.
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message=r"full scope is deprecated")

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from gatortron_common.cli import run_stage  # noqa: E402
from pretrain.from_hf import import_hf  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "hf"


@hydra.main(config_path=str(CONFIG_DIR), config_name="import_hf", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_stage(cfg, import_hf, "pretrain.import_hf")


if __name__ == "__main__":
    main()
