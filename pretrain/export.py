"""Export a pretraining checkpoint to a Hugging Face model directory.

    python -m pretrain.export checkpoint=runs/base output=hf/gatortron-base [iteration=latest]

The checkpoint may have been saved at any tensor/pipeline-parallel layout; the output is a
`MegatronBertForPreTraining` (or `...ForMaskedLM` without the sentence-order head) with
config.json, model.safetensors (sharded with an index when larger than max_shard_size_mb) and the
tokenizer files, so `AutoModel`, `AutoModelForMaskedLM`, `AutoModelForTokenClassification` and
`AutoTokenizer` load it offline. Padded vocabulary rows are dropped. `verify=true` also runs both
models on the same tokens and fails if their logits differ by more than 1e-4.

Settings: configs/pretrain/hf/export.yaml (documented in pretrain/to_hf.py, ExportConfig). Conversion
is CPU work: GPUs are hidden from this process, and RAM of about twice the largest stacked weight
plus one shard is enough (the whole model is never in memory, except with verify=true).
"""

from __future__ import annotations

import gatortron_common.environment.cpu  # noqa: F401  hides the GPUs before torch is imported

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir
from pretrain.to_hf import ExportConfig, export_checkpoint


@hydra.main(config_path=config_dir("pretrain/hf"), config_name="export", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, export_checkpoint, "pretrain.export")


if __name__ == "__main__":
    run_command(main, ExportConfig)
