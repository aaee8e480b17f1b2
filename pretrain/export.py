"""Export a pretraining checkpoint to a Hugging Face model directory.

    python -m pretrain.export checkpoint=runs/base output=hf/gatortron-base [iteration=latest]

The checkpoint may have been saved at any tensor/pipeline-parallel layout; the output is a
`MegatronBertForPreTraining` (or `...ForMaskedLM` without the sentence-order head) with
config.json, model.safetensors (sharded with an index when larger than max_shard_size_mb) and the
tokenizer files, so `AutoModel`, `AutoModelForMaskedLM`, `AutoModelForTokenClassification` and
`AutoTokenizer` load it offline. Padded vocabulary rows are dropped. `verify=true` also runs both
models on the same tokens and fails if their logits differ by more than 1e-4.

Settings: configs/hf/export.yaml (documented in pretrain/to_hf.py, ExportConfig). Conversion
is CPU work: GPUs are hidden from this process, and RAM of about twice the largest stacked weight
plus one shard is enough (the whole model is never in memory, except with verify=true).
"""

from __future__ import annotations

import os

# Conversion runs on the CPU whatever the node has (set before torch is imported).
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

warnings.filterwarnings("ignore", message=r".*(Apex|Transformer Engine).*not installed")
warnings.filterwarnings("ignore", message=r"torch.distributed is disabled")
# Deprecation notices from torch's checkpoint reader and megatron-core's config: not the user's concern.
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", message=r"full scope is deprecated")

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from gatortron_common.cli import run_stage  # noqa: E402
from pretrain.to_hf import export_checkpoint  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "hf"


@hydra.main(config_path=str(CONFIG_DIR), config_name="export", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_stage(cfg, export_checkpoint, "pretrain.export")


if __name__ == "__main__":
    main()
